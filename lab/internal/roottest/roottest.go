// Package roottest gates integration tests that need root: they skip on a developer's
// unprivileged run, and fail when REACHGATE_REQUIRE_ROOT_TESTS=1 (CI), so a gate can never
// pass by skipping them.
package roottest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Require skips or fails t when the process is not root.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("REACHGATE_REQUIRE_ROOT_TESTS") == "1" {
		t.Fatal("this test needs root (network namespaces) and REACHGATE_REQUIRE_ROOT_TESTS=1 forbids skipping it")
	}
	t.Skip("needs root (network namespaces); run as root or set REACHGATE_REQUIRE_ROOT_TESTS=1 to make this a failure")
}

// Self returns the reachgate binary from REACHGATE_BIN; without it the test is skipped, or
// fails under REACHGATE_REQUIRE_ROOT_TESTS=1.
func Self(t testing.TB) string {
	t.Helper()
	p := os.Getenv("REACHGATE_BIN")
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("REACHGATE_REQUIRE_ROOT_TESTS") == "1" {
		t.Fatalf("REACHGATE_BIN=%q is not a built reachgate binary (run 'make build')", p)
	}
	t.Skip("set REACHGATE_BIN to a built reachgate binary (make build)")
	return ""
}

// Binary returns REACHGATE_BIN, or reachgate built into a temporary directory (from the
// module root, found from the test's working directory).
func Binary(t testing.TB) string {
	t.Helper()
	if os.Getenv("REACHGATE_BIN") != "" {
		return Self(t)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "reachgate")
	t.Log("building reachgate (set REACHGATE_BIN to skip)")
	build := exec.Command("go", "build", "-o", bin, "./cmd/reachgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/reachgate: %v: %s", err, out)
	}
	return bin
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && filepath.Base(dir) != "kubebin" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// WaitFor polls cond every 10 ms until it holds, and fails t when d passes first; it returns
// how long it took.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// IPBatch runs `ip` commands (without the leading "ip") in namespace ns, failing t on error.
func IPBatch(t testing.TB, ns string, lines ...string) {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s -batch: %v: %s", ns, err, out)
	}
}

// Namespaces creates network namespaces for a test (removing any a crashed earlier run
// left) and deletes them when the test ends.
func Namespaces(t testing.TB, names ...string) {
	t.Helper()
	for _, ns := range names {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	t.Cleanup(func() {
		for _, ns := range names {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("delete namespace %s: %v: %s", ns, err, out)
			}
		}
	})
	for _, ns := range names {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("create namespace %s: %v: %s", ns, err, out)
		}
	}
}
