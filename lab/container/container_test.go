package container_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/lab/binaries"
	"reachgate/lab/container"
	"reachgate/lab/internal/roottest"
)

// basePackages are what the Dockerfile would otherwise install: the base image made by
// debootstrap carries them, so the image builds without a registry or network.
var basePackages = []string{"iproute2", "nftables", "nginx", "libnginx-mod-stream", "util-linux", "procps", "redis-server", "curl"}

const suite = "bookworm"

// need returns the path of a program the container tests run, failing (CI) or skipping without it.
func need(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return filepath.Join(d, name)
		}
	}
	if os.Getenv("REACHGATE_REQUIRE_ROOT_TESTS") == "1" {
		t.Fatalf("%s is missing: apt-get install %s", name, pkg)
	}
	t.Skipf("%s is missing (apt-get install %s)", name, pkg)
	return ""
}

// baseTar is a Debian root filesystem as a tar, made by debootstrap once and cached.
func baseTar(t *testing.T) string {
	t.Helper()
	h := sha256.Sum256([]byte(suite + " " + strings.Join(basePackages, ",")))
	cached := filepath.Join(binaries.CacheDir(), "container", "debootstrap-"+suite+"-"+hex.EncodeToString(h[:6])+".tar")
	if _, err := os.Stat(cached); err == nil {
		return cached
	}
	debootstrap := need(t, "debootstrap", "debootstrap")
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	t.Logf("debootstrap %s with %s (about 2.5 minutes; cached in %s)", suite, strings.Join(basePackages, ","), cached)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, debootstrap, "--variant=minbase", "--include="+strings.Join(basePackages, ","),
		suite, rootfs, "http://deb.debian.org/debian").CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(string(out), 30))
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := cached + ".tmp"
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tmp, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar the root filesystem: %v: %s", err, out)
	}
	if err := os.Rename(tmp, cached); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrap took %.0fs", time.Since(start).Seconds())
	return cached
}

// engine is a Docker engine of the test's own, in a network namespace of its own.
type engine struct {
	host string // DOCKER_HOST
	dir  string
}

func (e *engine) env() []string {
	return append(os.Environ(), "DOCKER_HOST="+e.host, "TESTCONTAINERS_RYUK_DISABLED=true")
}

func (e *engine) docker(t *testing.T, args ...string) string {
	t.Helper()
	c := exec.Command("docker", args...)
	c.Env = e.env()
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startEngine starts dockerd in namespace rgt-dockerd-<pid> (it must not touch the host's
// routes or firewall) with its data under a directory of the test's, and removes all of it
// when the test ends.
func startEngine(t *testing.T) *engine {
	t.Helper()
	dockerd := need(t, "dockerd", "docker.io")
	need(t, "docker", "docker.io")
	ns := fmt.Sprintf("rgt-dockerd-%d", os.Getpid())
	roottest.Namespaces(t, ns)
	roottest.IPBatch(t, ns, "link set lo up")
	// A short path: the engine's sockets live under it.
	dir, err := os.MkdirTemp("/tmp", "rgd-")
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{host: "unix://" + dir + "/docker.sock", dir: dir}
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("nsenter", "--net=/run/netns/"+ns, dockerd,
		"--data-root", dir+"/data", "--exec-root", dir+"/exec", "-H", e.host, "--pidfile", dir+"/docker.pid",
		"--iptables=false", "--ip6tables=false", "--ip-masq=false")
	c.Stdout, c.Stderr = log, log
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
		log.Close()
		_ = exec.Command("umount", "-R", dir+"/data").Run()
		_ = exec.Command("umount", "-R", dir+"/exec").Run()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the engine's directory: %v", err)
		}
	})
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", dir+"/docker.sock")
	}}, Timeout: time.Second}
	roottest.WaitFor(t, 30*time.Second, "dockerd to answer /_ping", func() bool {
		resp, err := hc.Get("http://docker/_ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

// TestE2EInContainer runs the baseline and ilb-proxy suites through `reachgate e2e --runtime
// container` against the test's own engine, with a debootstrapped base image, and checks that
// reports came back and nothing is left in the engine.
func TestE2EInContainer(t *testing.T) {
	roottest.Require(t)
	bin := roottest.Binary(t)
	base := baseTar(t)
	e := startEngine(t)
	const image = "reachgate-base:debootstrap"
	imp := exec.Command("docker", "import", base, image)
	imp.Env = e.env()
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	reports, binDir := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, bin, "e2e", "--runtime", "container", "--bin-dir", binDir, "./suites/baseline", "./suites/ilbproxy")
	run.Dir = root
	run.Env = append(e.env(), container.BaseEnv+"="+image, "REACHGATE_REPORT_DIR="+reports)
	start := time.Now()
	out, err := run.CombinedOutput()
	t.Logf("reachgate e2e --runtime container: %.1fs", time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("reachgate e2e --runtime container: %v\n%s", err, tail(string(out), 80))
	}
	for _, want := range []string{"baseline  pass", "ilbproxy  pass", "container: removed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, tail(string(out), 40))
		}
	}
	for _, s := range []string{"baseline", "ilbproxy"} {
		for _, f := range []string{filepath.Join("junit", s+".xml"), filepath.Join("ginkgo", s+".json")} {
			if fi, err := os.Stat(filepath.Join(reports, f)); err != nil || fi.Size() == 0 {
				t.Errorf("report %s not copied back: %v", f, err)
			}
		}
	}
	for _, s := range []string{"baseline", "ilbproxy"} {
		if _, err := os.Stat(filepath.Join(binDir, "logs", s+".log")); err != nil {
			t.Errorf("suite log of %s not copied back: %v", s, err)
		}
	}
	if left := strings.TrimSpace(e.docker(t, "ps", "-aq")); left != "" {
		t.Errorf("containers left in the engine: %s", left)
	}
	if left := strings.TrimSpace(e.docker(t, "network", "ls", "-q", "--filter", "type=custom")); left != "" {
		t.Errorf("networks left in the engine: %s", left)
	}
	if left := strings.TrimSpace(e.docker(t, "volume", "ls", "-q")); left != "" {
		t.Errorf("volumes left in the engine: %s", left)
	}

	// A killed run leaves its container without a reaper: lab gc removes what carries the label.
	e.docker(t, "run", "-d", "--network", "none", "--label", container.Label+"=killed", "--name", "reachgate-killed", image, "sleep", "600")
	e.docker(t, "run", "-d", "--network", "none", "--name", "someone-elses", image, "sleep", "600")
	gc := exec.Command(bin, "lab", "gc", "--runtime", "container")
	gc.Env = e.env()
	if out, err := gc.CombinedOutput(); err != nil || !strings.Contains(string(out), "reachgate-killed") {
		t.Fatalf("lab gc --runtime container: %v\n%s", err, out)
	}
	if left := strings.Fields(e.docker(t, "ps", "-a", "--format", "{{.Names}}")); len(left) != 1 || left[0] != "someone-elses" {
		t.Errorf("after lab gc --runtime container: containers %v, want only someone-elses (not reachgate's)", left)
	}
	e.docker(t, "rm", "-f", "someone-elses")

	// An interactive lab in the user's lab container: up, kubectl at a node through lab exec,
	// status, down; the container goes with the last lab.
	home := t.TempDir()
	labCmd := func(args ...string) string {
		t.Helper()
		c := exec.CommandContext(ctx, bin, args...)
		c.Dir = root
		// Its own record of the lab container; the lab binaries from the usual cache.
		c.Env = append(e.env(), container.BaseEnv+"="+image, "REACHGATE_RUNTIME=container", "XDG_CACHE_HOME="+home,
			"REACHGATE_CACHE="+binaries.CacheDir())
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("reachgate %s (container runtime): %v\n%s", strings.Join(args, " "), err, tail(string(out), 40))
		}
		return string(out)
	}
	up := labCmd("lab", "up", "--name", "ctr", "-f", "fixtures/topologies/seed.yaml")
	m := regexp.MustCompile(`lab exec --name ctr (\S+) --`).FindStringSubmatch(up)
	if m == nil {
		t.Fatalf("lab up in the container named no node host:\n%s", up)
	}
	if nodes := labCmd("lab", "exec", "--name", "ctr", m[1], "--", "reachgate", "kubectl", "get", "nodes"); strings.Count(nodes, " Ready ") != 3 {
		t.Errorf("kubectl get nodes in the lab container: want 3 Ready nodes:\n%s", nodes)
	}
	if st := labCmd("lab", "status"); !strings.Contains(st, "lab ctr: up") {
		t.Errorf("lab status with the container runtime:\n%s", st)
	}
	if down := labCmd("lab", "down", "--name", "ctr"); !strings.Contains(down, "removed the lab container") {
		t.Errorf("lab down of the last lab kept the container:\n%s", down)
	}
	if left := strings.TrimSpace(e.docker(t, "ps", "-aq")); left != "" {
		t.Errorf("containers left after lab down: %s", left)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
