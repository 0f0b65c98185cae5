package netns_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// TestRealizedNetworkAgreesWithModel realizes topologies and checks, for every ordered pair of
// hosts and two ports, that a real TCP connect succeeds exactly when the network model says
// the flow is admitted and both the forward and the return path exist — and that failures are
// silent timeouts, never refusals or ICMP errors, as in a cloud VPC. Each variant changes one
// thing in a topology (a routing mode, an advertisement, a peering flag, a firewall rule, an
// authorized network) and must flip a named pair's verdict the way GCP would.
func TestRealizedNetworkAgreesWithModel(t *testing.T) {
	roottest.Require(t)
	seed := readFile(t, "../../fixtures/topologies/seed.yaml")
	regional := readFile(t, "testdata/regional.yaml")
	type pair struct {
		src, dst string
		port     uint16
	}
	tests := []struct {
		name      string // also the lab's name
		yaml      string
		pair      pair
		reachable bool
		reason    string // in the model's reason when unreachable
	}{
		{name: "itn-seed", yaml: seed, pair: pair{"tp-vm", "gke-private-cluster-default-pool-a9966b2c-gq92", 22}, reachable: true},
		{name: "itn-seed-master", yaml: seed, pair: pair{"tp-vm", "master", 443}, reason: "not transitive"},
		{
			// GCP: CUSTOM advertisement announces only the listed ranges; without the node
			// range the third party has no route to the nodes.
			name: "itn-adv", yaml: edit(t, seed, "            ranges: [10.128.0.0/20]\n", "            ranges: []\n"),
			pair: pair{"tp-vm", "gke-private-cluster-default-pool-a9966b2c-gq92", 22}, reason: "does not announce it",
		},
		{
			// GCP: custom routes cross a peering only with export on one side and import on the
			// other; without import the GKE VPC cannot answer the third party.
			name: "itn-import", yaml: edit(t, seed, "      b: {vpc: gke, importCustomRoutes: true}", "      b: {vpc: gke}"),
			pair: pair{"tp-vm", "gke-private-cluster-default-pool-a9966b2c-gq92", 22}, reason: "importCustomRoutes is false on gke's side",
		},
		{
			// GCP: a deny rule with a higher priority (lower number) wins over the allow.
			name: "itn-deny", yaml: edit(t, seed, "      firewall:\n", "      firewall:\n        - name: deny-third-party\n          action: deny\n          priority: 900\n          sourceRanges: [172.31.0.0/16]\n"),
			pair: pair{"tp-vm", "gke-private-cluster-default-pool-a9966b2c-gq92", 22}, reason: "firewall rule deny-third-party",
		},
		{
			// GCP: without a matching allow rule the implied deny-ingress rule drops it.
			name: "itn-port", yaml: seed,
			pair: pair{"tp-vm", "gke-private-cluster-default-pool-a9966b2c-gq92", 443}, reason: "implied deny-ingress",
		},
		{name: "itn-auth-off", yaml: seed, pair: pair{"jumpbox", "master", 443}, reachable: true},
		{
			// GKE: with private endpoint enforcement only the listed ranges (and the cluster's
			// node and pod ranges) reach the private endpoint; the jumpbox subnet is neither.
			name: "itn-auth", yaml: edit(t, seed, "    peering: gke-3b1a4c5d-peer\n", "    peering: gke-3b1a4c5d-peer\n    authorizedNetworks:\n      enabled: true\n      privateEndpointEnforcement: true\n      cidrBlocks: [172.31.0.0/16]\n"),
			pair: pair{"jumpbox", "master", 443}, reason: "not in the master authorized networks",
		},
		{
			// GCP: REGIONAL dynamic routing applies 172.31.0.0/16 only in the router's region,
			// so a host in another region cannot answer; GLOBAL applies it everywhere.
			name: "itn-regional", yaml: regional, pair: pair{"tp-vm", "central-vm", 22}, reason: "REGIONAL",
		},
		{name: "itn-regional-west", yaml: regional, pair: pair{"tp-vm", "west-vm", 22}, reachable: true},
		{name: "itn-global", yaml: edit(t, regional, "routingMode: REGIONAL", "routingMode: GLOBAL"), pair: pair{"tp-vm", "central-vm", 22}, reachable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo, m := parseModel(t, tt.name+".yaml", tt.yaml)
			src, dst := topo.Host(tt.pair.src), topo.Host(tt.pair.dst)
			tr := m.TraceFlow(src.IP, dst.IP, netmodel.Flow{Proto: "tcp", Port: tt.pair.port})
			if tr.Reachable != tt.reachable {
				t.Fatalf("model: %s -> %s:%d reachable=%v, want %v: %s", src.Name, dst.Name, tt.pair.port, tr.Reachable, tt.reachable, tr.Reason)
			}
			if !tt.reachable && !strings.Contains(tr.Reason, tt.reason) {
				t.Errorf("model's reason %q does not name %q", tr.Reason, tt.reason)
			}
			agree(t, tt.name, topo, m, []uint16{22, 443})
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// edit replaces old (which must occur once) with new.
func edit(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("%q occurs %d times, want once", old, strings.Count(s, old))
	}
	return strings.Replace(s, old, new, 1)
}

// realize realizes topo as lab name, removed when the test ends.
func realize(t *testing.T, name string, topo *topology.Topology, m *netmodel.Model) *netns.Plan {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Recorded like a provisioning lab owned by this process, so a concurrent `lab gc` (another
	// package's test) leaves it alone.
	st := &netns.State{Name: name, Phase: netns.PhaseProvisioning, Hosts: map[string]netns.HostInfo{}, Dir: netns.LabDir(name)}
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
	return plan
}

// parseModel parses a topology and computes its model.
func parseModel(t *testing.T, name, yaml string) (*topology.Topology, *netmodel.Model) {
	t.Helper()
	topo, err := topology.Parse(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	m, err := netmodel.Compute(topo)
	if err != nil {
		t.Fatal(err)
	}
	return topo, m
}

// agree realizes topo as lab name and checks every host pair and port against the model.
func agree(t *testing.T, name string, topo *topology.Topology, m *netmodel.Model, ports []uint16) {
	ctx := context.Background()
	plan := realize(t, name, topo, m)
	for _, h := range topo.Hosts {
		for _, port := range ports {
			ln, err := netns.Listen(plan.Hosts[h.Name], "tcp", net.JoinHostPort(h.IP.String(), fmt.Sprint(port)))
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
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var reachable, unreachable int
	for _, src := range topo.Hosts {
		for _, dst := range topo.Hosts {
			if src == dst {
				continue
			}
			for _, port := range ports {
				wg.Add(1)
				go func() {
					defer wg.Done()
					trace := m.TraceFlow(src.IP, dst.IP, netmodel.Flow{Proto: "tcp", Port: port})
					dctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
					defer cancel()
					c, err := netns.Dialer(plan.Hosts[src.Name])(dctx, "tcp", net.JoinHostPort(dst.IP.String(), fmt.Sprint(port)))
					if c != nil {
						c.Close()
					}
					mu.Lock()
					defer mu.Unlock()
					pair := fmt.Sprintf("%s -> %s:%d", src.Name, dst.Name, port)
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
	}
	wg.Wait()
	t.Logf("%d reachable and %d unreachable flows agree with the model", reachable, unreachable)
	if reachable == 0 {
		t.Errorf("no flow connected: the realized lab is broken")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
