package doctor

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"reachgate/lab/internal/roottest"
)

// On a machine without the tools (and without root), every one is named missing with its fix.
func TestMissingPiecesHaveFixes(t *testing.T) {
	t.Setenv("REACHGATE_CACHE", t.TempDir())
	no := false
	checks := Run(context.Background(), Options{Root: &no, LookPath: func(string) (string, error) { return "", exec.ErrNotFound }})
	if !Failed(checks) {
		t.Fatal("Failed = false with nothing installed")
	}
	byName := map[string]Check{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	// Without root the lab runs in user namespaces, entered through nsenter: missing here.
	for _, want := range append([]string{"user namespaces (rootless lab)"}, "ip", "nsenter", "nft", "nginx", "redis-server", "gcloud", "go") {
		c, ok := byName[want]
		if !ok || c.Status != Missing || c.Fix == "" {
			t.Errorf("check %s: %+v; want missing with a fix", want, c)
		}
	}
	if _, ok := byName["kernel (netns, veth, nftables)"]; ok {
		t.Error("the kernel was probed without root and without nsenter")
	}
	for _, want := range []string{"dockerd", "debootstrap"} {
		if c := byName[want]; c.Status != Warn || c.Fix == "" {
			t.Errorf("test-only tool %s: %+v; want warn with a fix (the lab runs without it)", want, c)
		}
	}
}

func TestDiskCheck(t *testing.T) {
	dir := t.TempDir()
	if c := diskCheck(dir+"/not/yet/made", 0.001); c.Status != OK || !strings.Contains(c.Detail, "GiB free at "+dir) {
		t.Errorf("small need: %+v; want ok, measured at the nearest existing parent", c)
	}
	if c := diskCheck(dir, 1<<30); c.Status != Missing || !strings.Contains(c.Fix, "REACHGATE_CACHE") {
		t.Errorf("a billion GiB: %+v; want missing with a fix", c)
	}
}

// The probe really makes and removes its namespace, links and table.
func TestKernelProbe(t *testing.T) {
	roottest.Require(t)
	c := kernelCheck(context.Background(), lookPath)
	if c.Status != OK {
		t.Fatalf("kernel probe: %+v", c)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "doctor-") {
		t.Errorf("the probe left its namespace: %s", out)
	}
}
