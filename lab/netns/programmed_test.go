package netns_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// TestProgramSkipsWhatItInstalledAndRepairsDrift: a reconcile with an unchanged model starts
// no process; a route the kernel lost (removed by hand here, as a BGP withdrawal of a route
// it had replaced would) makes Program install again; a changed model installs its filter.
func TestProgramSkipsWhatItInstalledAndRepairsDrift(t *testing.T) {
	roottest.Require(t)
	seed := readFile(t, "../../fixtures/topologies/seed.yaml")
	topo, m := parseModel(t, "seed.yaml", seed)
	plan := realize(t, "itn-prog", topo, m)
	ctx := context.Background()
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
	topo2, m2 := parseModel(t, "seed.yaml", denied)
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
