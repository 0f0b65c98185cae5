// Package roottest gates integration tests that need root: they skip on a developer's
// unprivileged run, and fail when REACHGATE_REQUIRE_ROOT_TESTS=1 (CI), so a gate can never
// pass by skipping them.
package roottest

import (
	"os"
	"testing"
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
