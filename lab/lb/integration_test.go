package lb

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// TestRunInNamespaces runs the daemon as a process inside a router namespace and checks
// what a client sees: balancing, source preservation, failover, fail open, recovery, an
// emptied backend list, and cleanup.
func TestRunInNamespaces(t *testing.T) {
	roottest.Require(t)
	ctx := t.Context()
	const interval = 300 * time.Millisecond
	failoverBound := 2*interval + 300*time.Millisecond // 2 × Interval + margin for nft and scheduling

	buildNet(t)
	t.Run("golden rules load in nft", func(t *testing.T) {
		goldens, _ := filepath.Glob("testdata/*.golden")
		for _, g := range goldens {
			nftIn(t, nsRouter, "-c", "-f", g)
		}
	})
	b1 := startBackend(t, "b1", nsB1, "10.36.0.2")
	b2 := startBackend(t, "b2", nsB2, "10.36.0.3")
	c := newClient()

	dir := t.TempDir()
	specPath := filepath.Join(dir, "lb.json")
	spec := Spec{Name: "tlb", VIP: testVIP, Ports: []int{80}, Backends: []string{"10.36.0.2", "10.36.0.3"},
		Interval: interval, Timeout: 200 * time.Millisecond}
	if err := WriteSpec(specPath, spec); err != nil {
		t.Fatal(err)
	}
	state := &netns.State{Name: "tlb", Dir: dir}
	proc, err := state.Start(netns.StartSpec{Name: "ilb", Namespace: nsRouter, Path: roottest.Binary(t),
		Args: []string{"ilb", "--spec", specPath}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = proc.Stop(context.Background(), 5*time.Second)
		}
		if t.Failed() {
			log, _ := os.ReadFile(proc.Log)
			t.Logf("daemon log:\n%s", log)
		}
	})

	healthy := func(want ...bool) func() bool {
		return func() bool {
			st, err := ReadStatus(specPath)
			if err != nil || len(st.Backends) != len(want) {
				return false
			}
			for i, w := range want {
				if st.Backends[i].Healthy != w {
					return false
				}
			}
			return true
		}
	}
	roottest.WaitFor(t, 10*time.Second, "daemon reports both backends healthy", healthy(true, true))

	// Balancing and source preservation.
	seen := map[string]int{}
	for range 20 {
		name, src, err := c.get(ctx)
		if err != nil {
			t.Fatalf("request via the VIP: %v", err)
		}
		seen[name]++
		if host, _, _ := net.SplitHostPort(src); host != clientIP {
			t.Errorf("backend %s saw client %s; want %s (source preserved)", name, src, clientIP)
		}
	}
	if seen["b1"] == 0 || seen["b2"] == 0 || seen["b1"]+seen["b2"] != 20 {
		t.Fatalf("20 requests answered by %v; want both backends", seen)
	}
	t.Logf("20 requests: %v", seen)

	// Failover: stop b1; new connections must all reach b2 within 2 × Interval.
	b1.stop()
	killed := time.Now()
	var lastBad time.Duration
	for time.Since(killed) < failoverBound+time.Second {
		if name, _, err := c.get(ctx); err != nil || name != "b2" {
			lastBad = time.Since(killed)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("failover (b1 stopped → last failed or misrouted request): %v (interval %v)", lastBad.Round(time.Millisecond), interval)
	if lastBad > failoverBound {
		t.Errorf("requests failed or reached b1 until %v after it stopped; want within %v", lastBad, failoverBound)
	}
	for range 10 {
		if name, _, err := c.get(ctx); err != nil || name != "b2" {
			t.Fatalf("after failover: got %q, %v; want b2", name, err)
		}
	}
	if !healthy(false, true)() {
		st, err := ReadStatus(specPath)
		t.Errorf("status after failover = %+v, %v; want b1 unhealthy, b2 healthy", st, err)
	}

	// Both down: GCP fails open, so the table sends to both and connections are refused
	// by the backends (not dropped), and the daemon keeps running.
	b2.stop()
	roottest.WaitFor(t, failoverBound, "status shows fail open", func() bool {
		st, err := ReadStatus(specPath)
		return err == nil && st.FailOpen && healthy(false, false)()
	})
	rules := nftIn(t, nsRouter, "list", "table", "ip", TableName("tlb"))
	if !strings.Contains(rules, "10.36.0.2") || !strings.Contains(rules, "10.36.0.3") {
		t.Errorf("fail-open rules do not name both backends:\n%s", rules)
	}
	for range 4 {
		if _, _, err := c.get(ctx); !isRefused(err) {
			t.Errorf("request with both backends down: err %v; want connection refused", err)
		}
	}
	if !proc.Running() {
		t.Fatal("daemon exited with all backends down")
	}

	// Recovery: b1 comes back and takes all new connections.
	b1.start(t)
	back := time.Now()
	roottest.WaitFor(t, failoverBound, "status shows b1 healthy again", healthy(true, false))
	t.Logf("recovery (b1 restarted → healthy in status): %v", time.Since(back).Round(time.Millisecond))
	for range 6 {
		if name, _, err := c.get(ctx); err != nil || name != "b1" {
			t.Fatalf("after recovery: got %q, %v; want b1", name, err)
		}
	}

	// The spec file changes (pods gone): traffic to the VIP is dropped silently.
	spec.Backends = nil
	if err := WriteSpec(specPath, spec); err != nil {
		t.Fatal(err)
	}
	roottest.WaitFor(t, failoverBound, "status shows no backends", healthy())
	if rules := nftIn(t, nsRouter, "list", "table", "ip", TableName("tlb")); strings.Contains(rules, "dnat") {
		t.Errorf("rules with no backends still DNAT:\n%s", rules)
	}
	if _, _, err := c.get(ctx); !isTimeout(err) {
		t.Errorf("request with no backends: err %v; want a timeout (silent drop)", err)
	}

	// Stop: the daemon removes its table and status.
	stopped = true
	if err := proc.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if tables := nftIn(t, nsRouter, "list", "tables"); strings.Contains(tables, TableName("tlb")) {
		t.Errorf("table left after the daemon stopped:\n%s", tables)
	}
	if _, err := ReadStatus(specPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadStatus after stop = %v; want os.ErrNotExist", err)
	}
	log, _ := os.ReadFile(proc.Log)
	if !strings.Contains(string(log), "table removed") {
		t.Errorf("daemon did not stop cleanly (SIGKILL?); log:\n%s", log)
	}
}
