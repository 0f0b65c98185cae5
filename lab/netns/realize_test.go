package netns_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netmodel"
	"reachgate/lab/netns"
	"reachgate/lab/topology"
)

// TestRealizedNetworkAgreesWithModel realizes the seed topology and checks, for every
// ordered pair of hosts, that a real TCP connect succeeds exactly when the network model
// says both the forward and the return path exist — and that failures are silent
// timeouts, never refusals or ICMP errors, as in a cloud VPC.
func TestRealizedNetworkAgreesWithModel(t *testing.T) {
	roottest.Require(t)
	topo, err := topology.ParseFile("../../fixtures/topologies/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := netmodel.Compute(topo)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Recorded like a provisioning lab owned by this process, so a concurrent `lab gc` (another
	// package's test) leaves it alone.
	st := &netns.State{Name: "it-net", Phase: netns.PhaseProvisioning, Hosts: map[string]netns.HostInfo{}, Dir: netns.LabDir("it-net")}
	if err := st.SetOwner(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		if err := netns.Down(ctx, st, log); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	start := time.Now()
	plan, err := netns.Realize(ctx, st, topo, m, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("realized %d namespaces in %v", len(st.Namespaces), time.Since(start))

	// One listener per host on port 7000.
	for _, h := range topo.Hosts {
		ln, err := netns.Listen(plan.Hosts[h.Name], "tcp", net.JoinHostPort(h.IP.String(), "7000"))
		if err != nil {
			t.Fatalf("listen at %s: %v", h.Name, err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var reachable, unreachable int
	for _, src := range topo.Hosts {
		for _, dst := range topo.Hosts {
			if src == dst {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				trace := m.Trace(src.IP, dst.IP)
				dctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
				defer cancel()
				c, err := netns.Dialer(plan.Hosts[src.Name])(dctx, "tcp", net.JoinHostPort(dst.IP.String(), "7000"))
				if c != nil {
					c.Close()
				}
				mu.Lock()
				defer mu.Unlock()
				pair := fmt.Sprintf("%s -> %s", src.Name, dst.Name)
				switch {
				case trace.Reachable && err != nil:
					t.Errorf("%s: model says reachable, kernel says %v", pair, err)
				case !trace.Reachable && err == nil:
					t.Errorf("%s: model says unreachable (%s), but it connected", pair, trace.Reason)
				case !trace.Reachable && !isTimeout(err):
					t.Errorf("%s: unreachable must be a silent timeout; got %v", pair, err)
				case trace.Reachable:
					reachable++
				default:
					unreachable++
				}
			}()
		}
	}
	wg.Wait()
	t.Logf("%d reachable and %d unreachable pairs agree with the model", reachable, unreachable)
	if reachable == 0 || unreachable == 0 {
		t.Errorf("the seed topology must have both reachable and unreachable pairs; got %d and %d", reachable, unreachable)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
