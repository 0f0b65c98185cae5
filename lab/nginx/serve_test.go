package nginx

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

const podIP = "10.36.0.2"

// hardenedConf is the article's hardened server block.
const hardenedConf = `server {
    listen 443 ssl;
    ssl_certificate /etc/nginx/cert/tls.crt;
    ssl_certificate_key /etc/nginx/cert/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "ok\n"; }
}
`

// seedConf is the article's seed server block: `ssl on;` is deprecated (removed in 1.25).
const seedConf = `server {
    listen 443;
    ssl on;
    ssl_certificate /etc/nginx/cert/tls.crt;
    ssl_certificate_key /etc/nginx/cert/tls.key;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
    location / { return 200 "ok\n"; }
}
`

// TestServeSideBySide runs the hardened and the seed variant at once, each in its own
// namespace with the same pod IP, and checks what a client inside each namespace sees.
func TestServeSideBySide(t *testing.T) {
	roottest.Require(t)
	ctx := t.Context()
	before := hostSnapshot(t)
	t.Setenv("REACHGATE_STATE_DIR", t.TempDir())
	st := &netns.State{Name: "tnginx", Dir: netns.LabDir("tnginx"), Phase: netns.PhaseProvisioning}
	if err := st.SetOwner(); err != nil {
		t.Fatal(err)
	}
	pki := newTestPKI(t, podIP)

	type pod struct {
		name, conf string
		// tls maps a client's only TLS version to whether the handshake succeeds.
		tls  map[uint16]bool
		ns   string
		inst *Instance
		proc netns.Process
	}
	pods := []*pod{
		{name: "hardened", conf: hardenedConf, tls: map[uint16]bool{
			tls.VersionTLS11: false, tls.VersionTLS12: true, tls.VersionTLS13: true}},
		// TLS 1.1 is listed but refused: Debian's OpenSSL 3 allows TLS < 1.2 only at
		// security level 0, and nginx's default ciphers keep level 1 or higher.
		{name: "seed", conf: seedConf, tls: map[uint16]bool{
			tls.VersionTLS11: false, tls.VersionTLS12: true, tls.VersionTLS13: false}},
	}
	for i, p := range pods {
		p.ns = fmt.Sprintf("rg-tnginx-%d-%d", os.Getpid(), i)
		newNamespace(t, st, p.ns)
		var err error
		if p.inst, err = Prepare(st.Path("pods", p.name), pki.mounts(p.conf)); err != nil {
			t.Fatal(err)
		}
		argv := p.inst.Command()
		start := time.Now()
		p.proc, err = st.Start(netns.StartSpec{Name: "nginx-" + p.name, Namespace: p.ns, Path: argv[0], Args: argv[1:]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.proc.Stop(context.Background(), 5*time.Second) })
		if err := waitOK(ctx, p.ns, pki, 5*time.Second); err != nil {
			log, _ := os.ReadFile(p.proc.Log)
			t.Fatalf("%s: %v; process log:\n%s", p.name, err, log)
		}
		t.Logf("%s: start to first 200: %v", p.name, time.Since(start).Round(time.Microsecond))
	}

	// Both run now; each must still answer and own its pid file, logs and temp dirs.
	for _, p := range pods {
		if err := get(ctx, p.ns, pki); err != nil {
			t.Errorf("%s: GET with both running: %v", p.name, err)
		}
		for v, ok := range p.tls {
			err := handshake(ctx, p.ns, pki, v)
			if (err == nil) != ok {
				t.Errorf("%s: handshake with only %s: err = %v; want success %v", p.name, tls.VersionName(v), err, ok)
			}
		}
		pid, _ := os.ReadFile(p.inst.Path("/run/nginx.pid"))
		if got := strings.TrimSpace(string(pid)); got != strconv.Itoa(p.proc.PID) {
			t.Errorf("%s: run/nginx.pid = %q; want the started PID %d", p.name, got, p.proc.PID)
		}
		access, _ := os.ReadFile(p.inst.Path("/var/log/nginx/access.log"))
		if !strings.Contains(string(access), `"GET / HTTP/1.1" 200`) {
			t.Errorf("%s: access.log lacks the GETs:\n%s", p.name, access)
		}
		errLog, _ := os.ReadFile(p.inst.Path("/var/log/nginx/error.log"))
		if strings.Contains(string(errLog), "[emerg]") || strings.Contains(string(errLog), "[alert]") {
			t.Errorf("%s: error.log:\n%s", p.name, errLog)
		}
	}

	for _, p := range pods {
		if err := p.proc.Stop(ctx, 5*time.Second); err != nil {
			t.Errorf("%s: stop: %v", p.name, err)
		}
		if p.proc.Running() {
			t.Errorf("%s: pid %d still running after Stop", p.name, p.proc.PID)
		}
		log, _ := os.ReadFile(p.proc.Log)
		if strings.Contains(string(log), "[emerg]") {
			t.Errorf("%s: process log:\n%s", p.name, log)
		}
	}
	if d := cmp.Diff(before, hostSnapshot(t)); d != "" {
		t.Errorf("host's nginx paths changed (-before +after):\n%s", d)
	}
}

// TestSeedConfigWarns checks `nginx -t` accepts the seed block on 1.22 with a deprecation
// warning, and reports a broken config as an error with nginx's message.
func TestSeedConfigWarns(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	pki := newTestPKI(t, podIP)
	inst, err := Prepare(t.TempDir(), pki.mounts(seedConf))
	if err != nil {
		t.Fatal(err)
	}
	out, err := inst.Test(t.Context())
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	want := `the "ssl" directive is deprecated`
	if !strings.Contains(out, want) || !strings.Contains(out, "[warn]") {
		t.Errorf("nginx -t output:\n%s\nwant a [warn] containing %q", out, want)
	}

	broken, err := Prepare(t.TempDir(), []Mount{{Path: "/etc/nginx/conf.d/nginx.conf", Data: []byte(hardenedConf)}})
	if err != nil {
		t.Fatal(err)
	}
	out, err = broken.Test(t.Context())
	if err == nil || !strings.Contains(out, "/etc/nginx/cert/tls.crt") {
		t.Errorf("Test without the Secret: err = %v, output:\n%s\nwant an error naming the missing cert", err, out)
	}
}

// newNamespace creates ns with lo up and the pod IP on lo, and deletes it when t ends.
func newNamespace(t *testing.T, st *netns.State, ns string) {
	t.Helper()
	if err := st.RecordNamespace(ns); err != nil {
		t.Fatal(err)
	}
	ip(t, "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	ip(t, "-n", ns, "link", "set", "lo", "up")
	ip(t, "-n", ns, "addr", "add", podIP+"/32", "dev", "lo")
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// waitOK polls until an HTTPS GET from inside ns succeeds.
func waitOK(ctx context.Context, ns string, pki testPKI, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := get(ctx, ns, pki)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// get makes one HTTPS GET to the pod IP from inside ns, verifying the cert against the CA.
func get(ctx context.Context, ns string, pki testPKI) error {
	tr := &http.Transport{
		DialContext:       netns.Dialer(ns),
		TLSClientConfig:   &tls.Config{RootCAs: pki.Pool},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+podIP+"/", nil)
	if err != nil {
		return err
	}
	res, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
		return fmt.Errorf("got %d %q; want 200 %q", res.StatusCode, body, "ok\n")
	}
	return nil
}

// handshake does a TLS handshake from inside ns offering only version v.
func handshake(ctx context.Context, ns string, pki testPKI, v uint16) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := netns.Dialer(ns)(ctx, "tcp", podIP+":443")
	if err != nil {
		return err
	}
	defer conn.Close()
	c := tls.Client(conn, &tls.Config{RootCAs: pki.Pool, ServerName: podIP, MinVersion: v, MaxVersion: v})
	return c.HandshakeContext(ctx)
}

// hostSnapshot records the host's nginx paths and the mounts on them, to prove instances
// never touch the root mount namespace.
func hostSnapshot(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, root := range []string{"/etc/nginx", "/var/log/nginx", "/var/lib/nginx"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%s %v %d %v", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
			if fi.Mode().IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				line += fmt.Sprintf(" %x", sha256.Sum256(data))
			}
			out = append(out, line)
			return nil
		})
		if err != nil {
			t.Fatalf("snapshot %s: %v", root, err)
		}
	}
	for _, p := range []string{"/run/nginx.pid", "/run/lock/nginx.lock"} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			out = append(out, p+" exists")
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			for _, target := range targets {
				if f[4] == target {
					out = append(out, "mount "+line)
				}
			}
		}
	}
	return out
}

// TestInstanceUnderRun covers the lab's layout: instance dirs live in the state dir under
// /run, which the instance itself replaces (so /run must be bind-mounted last).
func TestInstanceUnderRun(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	dir, err := os.MkdirTemp("/run", "rg-tnginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	inst, err := Prepare(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := inst.Test(t.Context()); err != nil {
		t.Errorf("Test: %v\n%s", err, out)
	}
}
