package gate

import (
	"fmt"
	"os"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"go.yaml.in/yaml/v3"

	"reachgate/framework/probe"
	"reachgate/framework/topology"
)

// plan50 is a plan of 50 resource changes against the seed topology: 30 firewall rules
// created, 8 updates of its two rules, 6 advertisement updates of hub-router and 6 routes
// config updates of the hub's side of hub-to-gke.
func plan50() *tfjson.Plan {
	var changes []*tfjson.ResourceChange
	rule := func(name, src, port string, prio int) map[string]any {
		return map[string]any{"name": name, "network": "projects/acme-prod/global/networks/gke", "direction": "INGRESS",
			"priority": float64(prio), "source_ranges": []any{src}, "allow": []any{map[string]any{"protocol": "tcp", "ports": []any{port}}}}
	}
	for i := range 30 {
		changes = append(changes, rc(fmt.Sprintf("google_compute_firewall.app_%d", i), toCreate, nil,
			rule(fmt.Sprintf("allow-app-%d", i), fmt.Sprintf("10.200.%d.0/24", i), fmt.Sprint(8000+i), 500+i)))
	}
	for i := range 8 {
		name, src := "allow-third-party-ssh", "172.31.0.0/16"
		if i%2 == 1 {
			name, src = "allow-internal", "10.128.0.0/9"
		}
		changes = append(changes, rc(fmt.Sprintf("google_compute_firewall.existing_%d", i), toUpdate,
			rule(name, src, "22", 1000), rule(name, src, fmt.Sprintf("22-%d", 23+i), 1000)))
	}
	for i := range 6 {
		adv := map[string]any{"name": "hub-router", "network": "hub", "region": "us-central1", "bgp": []any{map[string]any{
			"asn": 64514.0, "advertise_mode": "CUSTOM", "advertised_groups": []any{"ALL_SUBNETS"},
			"advertised_ip_ranges": []any{map[string]any{"range": "10.128.0.0/20"}, map[string]any{"range": fmt.Sprintf("10.210.%d.0/24", i)}}}}}
		changes = append(changes, rc(fmt.Sprintf("google_compute_router.hub_%d", i), toUpdate, adv, adv))
	}
	for i := range 6 {
		cfg := map[string]any{"peering": "hub-to-gke", "network": "hub", "export_custom_routes": true, "import_custom_routes": i%2 == 0}
		changes = append(changes, rc(fmt.Sprintf("google_compute_network_peering_routes_config.hub_%d", i), toUpdate, cfg, cfg))
	}
	return memPlan(changes...)
}

// BenchmarkPredict50 is `reachgate gate predict` on a plan of 50 resource changes against the
// seed topology's model with three flows. The target is < 200 ms; run `make bench-predict`.
func BenchmarkPredict50(b *testing.B) {
	data, err := os.ReadFile("../../fixtures/topologies/seed.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var f topology.File
	if err := yaml.Unmarshal(data, &f); err != nil {
		b.Fatal(err)
	}
	base := &Snapshot{Version: Version, Topology: "seed", Model: &f,
		Routers: []Router{{Network: "hub", Name: "hub-router", Mode: "CUSTOM", Peers: []string{"tp-interconnect-0 169.254.20.2 64512"}}},
		Flows: []Flow{{From: "tp-vm", To: "10.128.0.3:22", Outcome: probe.Connected},
			{From: "tp-vm", To: "192.168.32.34:443", Outcome: probe.Timeout},
			{From: "jumpbox", To: "10.128.0.3:22", Outcome: probe.Connected}}}
	plan := plan50()
	if n := len(plan.ResourceChanges); n != 50 {
		b.Fatalf("the plan has %d changes, want 50", n)
	}
	for b.Loop() {
		p, err := Predict(base, plan)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Changes) != 50 || p.NotModelled != 0 || p.Regression {
			b.Fatalf("unexpected prediction:\n%s", p.Text())
		}
	}
}
