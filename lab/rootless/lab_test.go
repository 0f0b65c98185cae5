package rootless_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/lab/binaries"
	"reachgate/lab/internal/roottest"
	"reachgate/lab/rootless"
)

// nobody is the unprivileged user the tests run the lab as.
const nobody = 65534

// user is reachgate as an unprivileged user: its own home, cache (the lab binaries linked
// from root's) and a copy of the binary it may execute.
type user struct {
	home, cache, bin, root string
}

func newUser(t *testing.T) *user {
	t.Helper()
	roottest.Require(t)
	self := roottest.Binary(t)
	ctx := t.Context()
	bins, err := binaries.Ensure(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("lab binaries: %v", err)
	}
	base, err := os.MkdirTemp("", "reachgate-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	u := &user{home: filepath.Join(base, "home"), cache: filepath.Join(base, "cache"), bin: filepath.Join(base, "bin")}
	// The user's cache holds the same kube-apiserver and etcd, at the same key.
	rel, err := filepath.Rel(binaries.CacheDir(), filepath.Dir(bins.APIServer))
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("lab binaries outside the cache: %s", bins.APIServer)
	}
	for _, d := range []string{u.home, u.bin, filepath.Join(u.cache, rel)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{bins.APIServer, bins.Etcd, filepath.Join(filepath.Dir(bins.APIServer), ".complete")} {
		if err := linkOrCopy(f, filepath.Join(u.cache, rel, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	if err := linkOrCopy(self, filepath.Join(u.bin, "reachgate")); err != nil {
		t.Fatal(err)
	}
	if err := filepath.Walk(base, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// The checkout, where the lab binaries' cache key is computed from (readable by anyone).
	if u.root, err = filepath.Abs("../.."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.cleanup(t) })
	return u
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// command is reachgate args run as the user.
func (u *user) command(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, filepath.Join(u.bin, "reachgate"), args...)
	c.Dir = u.root
	c.Env = []string{
		"HOME=" + u.home, "REACHGATE_CACHE=" + u.cache,
		"PATH=" + u.bin + ":" + os.Getenv("PATH") + ":/usr/local/go/bin:/usr/sbin:/sbin",
	}
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}, Setpgid: true}
	return c
}

// run runs reachgate args as the user and fails t unless it exits 0.
func (u *user) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := u.command(ctx, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("as uid %d: reachgate %s: %v\n%s", nobody, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (u *user) record() string {
	return filepath.Join(u.home, ".cache", "reachgate", "rootless", "holder.json")
}

func (u *user) holder(t *testing.T) rootless.Holder {
	t.Helper()
	b, err := os.ReadFile(u.record())
	if err != nil {
		t.Fatalf("holder record: %v", err)
	}
	var h rootless.Holder
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// inNamespace lists the live (not zombie) processes in user namespace ino.
func inNamespace(ino uint64) []int { return (&rootless.Holder{UserNS: ino}).Members() }

// cleanup removes whatever a failed test left: the user's labs, then anything in its namespace.
func (u *user) cleanup(t *testing.T) {
	b, err := os.ReadFile(u.record())
	if err != nil {
		return
	}
	var h rootless.Holder
	if json.Unmarshal(b, &h) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = u.command(ctx, "lab", "gc").Run()
	for _, p := range inNamespace(h.UserNS) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// hostNamespaces lists the host's named network namespaces of lab name.
func hostNamespaces(t *testing.T, name string) []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "rg-"+name+"-") {
			ns = append(ns, f[0])
		}
	}
	return ns
}

func processUID(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

func waitGone(t *testing.T, ino uint64) {
	t.Helper()
	roottest.WaitFor(t, 10*time.Second, "processes in the lab's user namespace to end", func() bool { return len(inNamespace(ino)) == 0 })
}

// TestRootlessLab runs the lab as an unprivileged user: lab up, kubectl at a node and through
// the ilb-proxy solution (nginx), the holder killed and adopted, lab down leaving nothing.
func TestRootlessLab(t *testing.T) {
	u := newUser(t)
	const name = "rlt"
	out := u.run(t, "doctor", "--json")
	if !strings.Contains(out, `"name": "user namespaces (rootless lab)",`+"\n    \"status\": \"ok\"") {
		t.Errorf("doctor as uid %d does not find user namespaces usable:\n%s", nobody, out)
	}
	out = u.run(t, "lab", "up", "--name", name)
	h := u.holder(t)
	if uid := processUID(t, h.PID); uid != nobody {
		t.Errorf("holder PID %d runs as uid %d, want %d", h.PID, uid, nobody)
	}
	if ns := hostNamespaces(t, name); len(ns) > 0 {
		t.Errorf("the rootless lab made namespaces in the host's /run/netns: %v", ns)
	}
	if _, err := os.Stat("/run/reachgate/labs/" + name); err == nil {
		t.Errorf("the rootless lab's state is in the host's /run/reachgate")
	}
	m := regexp.MustCompile(`lab exec --name ` + name + ` (\S+) --`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("lab up did not name a node host:\n%s", out)
	}
	nodes := u.run(t, "lab", "exec", "--name", name, m[1], "--", "reachgate", "kubectl", "get", "nodes")
	if n := strings.Count(nodes, " Ready "); n != 3 {
		t.Errorf("kubectl get nodes at %s: %d Ready nodes, want 3:\n%s", m[1], n, nodes)
	}
	out = u.run(t, "solution", "apply", "ilb-proxy", "--name", name)
	kc := regexp.MustCompile(`--kubeconfig (\S+) get nodes`).FindStringSubmatch(out)
	if kc == nil {
		t.Fatalf("solution apply named no kubeconfig:\n%s", out)
	}
	nodes = u.run(t, "lab", "exec", "--name", name, "tp-vm", "--", "reachgate", "kubectl", "--kubeconfig", kc[1], "get", "nodes")
	if n := strings.Count(nodes, " Ready "); n != 3 {
		t.Errorf("kubectl at tp-vm through the ilb-proxy: %d Ready nodes, want 3:\n%s", n, nodes)
	}

	// The holder killed: the next command adopts the namespaces, the lab is still there.
	if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	status := u.run(t, "lab", "status", "--name", name)
	if !strings.Contains(status, "holds the lab namespaces now") || !strings.Contains(status, "lab "+name+": up") {
		t.Errorf("lab status after the holder was killed:\n%s", status)
	}
	h2 := u.holder(t)
	if h2.PID == h.PID || h2.UserNS != h.UserNS {
		t.Errorf("adopting holder %+v, want a new PID in user namespace %d", h2, h.UserNS)
	}

	out = u.run(t, "lab", "down", "--name", name)
	if !strings.Contains(out, "stopped the namespace holder") {
		t.Errorf("lab down of the last lab did not stop the holder:\n%s", out)
	}
	waitGone(t, h.UserNS)
	if _, err := os.Stat(u.record()); !os.IsNotExist(err) {
		t.Errorf("holder record left after lab down: %v", err)
	}
	if out := u.run(t, "lab", "gc"); !strings.Contains(out, "nothing to collect") {
		t.Errorf("lab gc with nothing held:\n%s", out)
	}
}

// TestRootlessKilledUp kills `lab up` (its whole process group, as Ctrl-C's kill -9 would)
// partway, then lab gc removes the lab, the holder and every process in the namespace.
func TestRootlessKilledUp(t *testing.T) {
	u := newUser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := u.command(ctx, "lab", "up", "--name", "rlk")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	roottest.WaitFor(t, 30*time.Second, "the holder record", func() bool { _, err := os.Stat(u.record()); return err == nil })
	time.Sleep(800 * time.Millisecond)
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	_ = c.Wait()
	h := u.holder(t)
	if len(inNamespace(h.UserNS)) == 0 {
		t.Fatal("nothing left in the user namespace after the kill: the test proves nothing")
	}
	out := u.run(t, "lab", "gc")
	if !strings.Contains(out, "stopped the namespace holder") {
		t.Errorf("lab gc after a killed lab up:\n%s", out)
	}
	waitGone(t, h.UserNS)
	if _, err := os.Stat(u.record()); !os.IsNotExist(err) {
		t.Errorf("holder record left after lab gc: %v", err)
	}
}
