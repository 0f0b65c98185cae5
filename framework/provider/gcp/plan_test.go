package gcp

import (
	"math"
	"slices"
	"strings"
	"testing"

	"reachgate/framework/topology"
)

func planOf(t *testing.T, name string) *RunPlan {
	t.Helper()
	topo, err := topology.ParseFile("../../../fixtures/topologies/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	prices, err := DefaultPrices()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(topo, "nightly", prices, 2)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanSeed(t *testing.T) {
	p := planOf(t, "seed")
	kinds := map[string]int{}
	first := map[string]int{}
	var sum float64
	for i, r := range p.Resources {
		if _, ok := first[r.Kind]; !ok {
			first[r.Kind] = i
		}
		kinds[r.Kind]++
		sum += r.Hourly
		if r.By == "provision" && (!strings.HasPrefix(r.Name, "rg-nightly-") || len(r.Name) > 63) {
			t.Errorf("%s %s: not a run's name", r.Kind, r.Name)
		}
		if strings.Contains(r.Scope, "us-east-1") {
			t.Errorf("%s %s in %s: an AWS region in a GCP plan", r.Kind, r.Name, r.Scope)
		}
	}
	// Creation order: what a resource needs comes first.
	for _, pair := range [][2]string{{"network", "subnetwork"}, {"subnetwork", "cluster"}, {"router", "vpnGateway"}, {"vpnGateway", "vpnTunnel"}, {"cluster", "instance"}} {
		if first[pair[0]] > first[pair[1]] {
			t.Errorf("%s planned after %s", pair[0], pair[1])
		}
	}
	if kinds["cluster"] != 1 || kinds["network"] != 3 {
		t.Errorf("kinds: %v", kinds)
	}
	// The third party is emulated, and its VM is one; the jumpbox is not.
	for _, r := range p.Resources {
		if r.Kind == "instance" && strings.HasSuffix(r.Name, "tp-vm") && !r.Emulated {
			t.Error("tp-vm is not marked emulated")
		}
		if r.Kind == "instance" && strings.HasSuffix(r.Name, "jumpbox") && r.Emulated {
			t.Error("the jumpbox is marked emulated")
		}
	}
	if math.Abs(p.Hourly-sum) > 1e-9 || math.Abs(p.Cost-2*sum) > 1e-9 || p.Cost <= 0 {
		t.Errorf("hourly %v (sum %v), cost %v", p.Hourly, sum, p.Cost)
	}
}

func TestPlanBGPExportCountsTheSolutionsTunnels(t *testing.T) {
	p := planOf(t, "bgp-export")
	tunnels := 0
	for _, r := range p.Resources {
		if r.Kind == "vpnTunnel" && r.By == "bgp-export" {
			tunnels += r.Count
		}
	}
	if tunnels != 8 {
		t.Errorf("bgp-export's HA VPN: %d tunnels, want 4 on each side", tunnels)
	}
}

func TestPlanRefusesBadInput(t *testing.T) {
	topo, err := topology.ParseFile("../../../fixtures/topologies/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prices, _ := DefaultPrices()
	for _, run := range []string{"", "Nightly", "a_b", "-x", "x-", strings.Repeat("a", 21)} {
		if _, err := Plan(topo, run, prices, 1); err == nil {
			t.Errorf("run %q accepted", run)
		}
	}
	if _, err := Plan(topo, "r", prices, 0); err == nil {
		t.Error("0 hours accepted")
	}
	delete(prices.Items, "e2-small")
	if _, err := Plan(topo, "r", prices, 1); err == nil || !strings.Contains(err.Error(), "e2-small") {
		t.Errorf("a missing price item: %v", err)
	}
	if _, err := ParsePrices([]byte("items:\n  x: {hourly: -1}\n")); err == nil {
		t.Error("a negative price accepted")
	}
	if n := ResourceName("r", strings.Repeat("Long_Name", 10)); len(n) > 63 || !strings.HasPrefix(n, "rg-r-long-name") {
		t.Errorf("long name: %q", n)
	}
	if !slices.Contains([]string{"rg-r-a-b"}, ResourceName("r", "A.b")) {
		t.Errorf("ResourceName(r, A.b) = %q", ResourceName("r", "A.b"))
	}
}
