package netns_test

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// TestProgramSkipsWhatItInstalledAndRepairsDrift: a reconcile with an unchanged model starts
// no process; a route the kernel lost (removed by hand here, as a BGP withdrawal of a route
// it had replaced would) makes Program install again; a changed model installs its filter.
func TestProgramSkipsWhatItInstalledAndRepairsDrift(t *testing.T) {
	roottest.Require(t)
	seed := readFile(t, "../../fixtures/topologies/seed.yaml")
	topo, err := topology.Parse("seed.yaml", []byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	m, err := netmodel.Compute(topo)
	if err != nil {
		t.Fatal(err)
	}
	name := "itn-prog"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
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
	plan, err := netns.Realize(ctx, st, topo, m, log)
	if err != nil {
		t.Fatal(err)
	}
	gke := plan.Routers["gke"]
	routes := func() string {
		out, err := exec.Command("ip", "-n", gke, "route", "show", "proto", "boot").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route: %v: %s", err, out)
		}
		return string(out)
	}
	installed := routes()
	if !strings.Contains(installed, "blackhole default") {
		t.Fatalf("no blackhole default in %s after Realize:\n%s", gke, installed)
	}

	before := netns.CommandsStarted()
	if err := netns.Program(ctx, plan, topo, m); err != nil {
		t.Fatal(err)
	}
	if n := netns.CommandsStarted() - before; n != 0 {
		t.Errorf("Program of an unchanged model started %d processes, want 0", n)
	}

	if out, err := exec.Command("ip", "-n", gke, "route", "del", "blackhole", "default").CombinedOutput(); err != nil {
		t.Fatalf("remove a route by hand: %v: %s", err, out)
	}
	before = netns.CommandsStarted()
	if err := netns.Program(ctx, plan, topo, m); err != nil {
		t.Fatal(err)
	}
	if netns.CommandsStarted() == before {
		t.Errorf("Program started no process though %s lost a route it installed", gke)
	}
	if now := routes(); now != installed {
		t.Errorf("Program did not restore %s's routes:\nnow\n%s\nwant\n%s", gke, now, installed)
	}

	denied := edit(t, seed, "      firewall:\n", "      firewall:\n        - name: deny-third-party\n          action: deny\n          priority: 900\n          sourceRanges: [172.31.0.0/16]\n")
	topo2, err := topology.Parse("seed.yaml", []byte(denied))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := netmodel.Compute(topo2)
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.Program(ctx, plan, topo2, m2); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "exec", gke, "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "deny-third-party") {
		t.Errorf("the changed model's filter is not installed in %s:\n%s", gke, out)
	}
}
