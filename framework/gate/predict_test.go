package gate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"reachgate/framework/probe"
)

const (
	endpoint = "tp-vm -> 192.168.32.34:443"
	nodeSSH  = "tp-vm -> 10.128.0.3:22"
)

// predictBaseline is the bgp-export environment after the hardened solution, as a snapshot
// with its model.
func predictBaseline(t testing.TB) *Snapshot {
	t.Helper()
	data, err := os.ReadFile("testdata/bgp-export.snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func fixturePlan(t *testing.T, name string) *tfjson.Plan {
	t.Helper()
	path := filepath.Join("..", "..", "fixtures", "plans", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// memPlan is a plan of the given changes.
func memPlan(changes ...*tfjson.ResourceChange) *tfjson.Plan {
	return &tfjson.Plan{FormatVersion: "1.2", ResourceChanges: changes}
}

func rc(address string, actions []tfjson.Action, before, after map[string]any) *tfjson.ResourceChange {
	typ, name, _ := strings.Cut(address, ".")
	c := &tfjson.Change{Actions: actions, AfterUnknown: map[string]any{}}
	if before != nil {
		c.Before = before
	}
	if after != nil {
		c.After = after
	}
	return &tfjson.ResourceChange{Address: address, Mode: tfjson.ManagedResourceMode, Type: typ, Name: name, Change: c}
}

var (
	toCreate = []tfjson.Action{tfjson.ActionCreate}
	toUpdate = []tfjson.Action{tfjson.ActionUpdate}
	toDelete = []tfjson.Action{tfjson.ActionDelete}
)

func flowsOf(p *Prediction) map[string]PredictedFlow {
	out := map[string]PredictedFlow{}
	for _, f := range p.Flows {
		out[f.Flow] = f
	}
	return out
}

// check compares a prediction with the after verdicts of both flows, the regression flag, the
// not-modelled count and substrings of the text.
func check(t *testing.T, p *Prediction, endpointAfter, sshAfter, regression bool, notModelled int, want ...string) {
	t.Helper()
	fl := flowsOf(p)
	for _, c := range []struct {
		flow  string
		after bool
	}{{endpoint, endpointAfter}, {nodeSSH, sshAfter}} {
		f, ok := fl[c.flow]
		if !ok {
			t.Fatalf("no flow %s in %+v", c.flow, p.Flows)
		}
		if !f.Before || f.Note != "" {
			t.Errorf("flow %s: the model disagrees with the baseline before the plan: %+v", c.flow, f)
		}
		if f.After != c.after {
			t.Errorf("flow %s: after %v, want %v\n%s", c.flow, f.After, c.after, p.Text())
		}
		if f.Regression != (!c.after) {
			t.Errorf("flow %s: regression %v, want %v", c.flow, f.Regression, !c.after)
		}
	}
	if p.Regression != regression {
		t.Errorf("regression %v, want %v\n%s", p.Regression, regression, p.Text())
	}
	if p.NotModelled != notModelled {
		t.Errorf("%d not modelled, want %d\n%s", p.NotModelled, notModelled, p.Text())
	}
	for _, w := range want {
		if !strings.Contains(p.Text(), w) {
			t.Errorf("the text lacks %q:\n%s", w, p.Text())
		}
	}
}

func TestPredictFixturePlans(t *testing.T) {
	for _, tc := range []struct {
		plan                    string
		endpointAfter, sshAfter bool
		regression              bool
		notModelled             int
		want                    []string
	}{
		{"export-off.plan.json", false, true, true, 0, []string{
			"gate predict: REGRESSION — 1 of 2 flow(s) change verdict",
			"peering gke-3b1a4c5d-peer (network gke): exportCustomRoutes true -> false",
			"flow tp-vm -> 192.168.32.34:443: reachable -> unreachable (baseline probe: Connected) (regression)",
			"the reply does not come back"}},
		{"advertise-default.plan.json", false, true, true, 0, []string{
			"router gke-router (network gke): advertisement CUSTOM groups [ALL_SUBNETS] ranges [192.168.32.32/28] -> DEFAULT"}},
		{"deny-ssh-900.plan.json", true, false, true, 0, []string{
			"flow tp-vm -> 10.128.0.3:22: reachable -> unreachable (baseline probe: Refused) (regression)",
			"firewall rule deny-third-party-ssh (network gke) created: deny tcp:22 from 172.31.0.0/16, priority 900"}},
		{"authorized-drop-third-party.plan.json", false, true, true, 0, []string{
			"master authorized networks enabled [34.159.42.248/32, 172.31.0.0/16] (enforced on the private endpoint) -> enabled [34.159.42.248/32] (enforced on the private endpoint)",
			"not in the master authorized networks"}},
		{"labels-only.plan.json", true, true, false, 0, []string{
			"gate predict: PASS — 0 of 2 flow(s) change verdict; 1 resource change(s), 0 not modelled",
			"google_compute_ha_vpn_gateway.gke_ha_vpn (update): " + labelsOnlyNote}},
		{"unmodelled.plan.json", true, true, false, 2, []string{
			"google_compute_route.to_third_party (create): NOT MODELLED: static routes are not modelled (the topology has no static routes yet)",
			"google_dns_record_set.api (update): NOT MODELLED: resource type google_dns_record_set is not modelled"}},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			p, err := Predict(predictBaseline(t), fixturePlan(t, tc.plan))
			if err != nil {
				t.Fatal(err)
			}
			check(t, p, tc.endpointAfter, tc.sshAfter, tc.regression, tc.notModelled, tc.want...)
		})
	}
}

func TestPredictChanges(t *testing.T) {
	router := func(mode string) map[string]any {
		return map[string]any{"name": "gke-router", "network": "projects/acme-prod/global/networks/gke", "region": "us-central1",
			"bgp": []any{map[string]any{"asn": 64514.0, "advertise_mode": mode, "advertised_groups": []any{"ALL_SUBNETS"},
				"advertised_ip_ranges": []any{map[string]any{"range": "192.168.32.32/28"}}}}}
	}
	peer := func(name string, enable bool) map[string]any {
		return map[string]any{"name": name, "router": "gke-router", "region": "us-central1", "enable": enable, "peer_asn": 64512.0}
	}
	peerDelete := func(i string) *tfjson.ResourceChange {
		return rc("google_compute_router_peer.p"+i, toDelete, peer("tp-ha-vpn-bgp-peer-"+i, true), nil)
	}
	firewall := func(name string, extra map[string]any) map[string]any {
		m := map[string]any{"name": name, "network": "gke", "direction": "INGRESS", "priority": 1000.0,
			"source_ranges": []any{"172.31.0.0/16"}, "allow": []any{map[string]any{"protocol": "tcp", "ports": []any{"22"}}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	routesConfig := func(network string, export bool) map[string]any {
		return map[string]any{"peering": "gke-3b1a4c5d-peer", "network": network, "export_custom_routes": export, "import_custom_routes": true}
	}
	for _, tc := range []struct {
		name                    string
		plan                    *tfjson.Plan
		endpointAfter, sshAfter bool
		notModelled             int
		want                    []string
	}{
		{"deleting the router removes the vpn link", memPlan(rc("google_compute_router.gke_router", toDelete, router("CUSTOM"), nil)),
			false, false, 0, []string{"router gke-router (network gke) deleted; deleting a router deletes its BGP peers and interfaces, so these go with it (no BGP session, no dynamic routes): vpn link tp-ha-vpn"}},
		{"three of four BGP peers deleted", memPlan(peerDelete("0"), peerDelete("1"), peerDelete("2")),
			true, true, 0, []string{"BGP peer tp-ha-vpn-bgp-peer-2 deleted; peers 2 -> 1"}},
		{"every BGP peer gone removes the vpn link", memPlan(peerDelete("0"), peerDelete("1"), peerDelete("2"),
			rc("google_compute_router_peer.p3", toUpdate, peer("tp-ha-vpn-bgp-peer-3", true), peer("tp-ha-vpn-bgp-peer-3", false))),
			false, false, 0, []string{"BGP peer tp-ha-vpn-bgp-peer-3 disabled; peers 1 -> 0; router gke-router is left with no BGP peers, so these leave the model (no BGP session, no dynamic routes): vpn link tp-ha-vpn"}},
		{"peers replaced in one plan keep the link", memPlan(peerDelete("0"), peerDelete("1"), peerDelete("2"), peerDelete("3"),
			rc("google_compute_router_peer.new", toCreate, nil, peer("tp-ha-vpn-bgp-peer-new", true))),
			true, true, 0, []string{"peers 0 -> 1"}},
		{"a per-peer advertisement is not modelled", memPlan(rc("google_compute_router_peer.p0", toUpdate,
			peer("tp-ha-vpn-bgp-peer-0", true), map[string]any{"name": "tp-ha-vpn-bgp-peer-0", "router": "gke-router", "region": "us-central1",
				"enable": true, "peer_asn": 64512.0, "advertise_mode": "CUSTOM"})),
			true, true, 1, []string{"per-peer custom advertisements are not modelled (changed: advertise_mode)"}},
		{"routes config on the GKE-managed side cannot be changed", memPlan(rc("google_compute_network_peering_routes_config.m", toUpdate,
			routesConfig("gke-master", true), routesConfig("gke-master", false))),
			true, true, 0, []string{"network gke-master is managed by GKE, and its side of a peering cannot be changed"}},
		{"deleting a routes config changes nothing", memPlan(rc("google_compute_network_peering_routes_config.gke", toDelete, routesConfig("gke", true), nil)),
			true, true, 0, []string{"Terraform only forgets it"}},
		{"a new peering without its other side is inactive", memPlan(rc("google_compute_network_peering.x", toCreate, nil,
			map[string]any{"name": "gke-to-shared", "network": "gke", "peer_network": "projects/other/global/networks/shared", "export_custom_routes": true})),
			true, true, 0, []string{"INACTIVE until the peer network creates its side"}},
		{"an egress rule is not modelled", memPlan(rc("google_compute_firewall.e", toCreate, nil, firewall("deny-out", map[string]any{"direction": "EGRESS"}))),
			true, true, 1, []string{"EGRESS rules are not modelled"}},
		{"a rule by source tags only is not modelled", memPlan(rc("google_compute_firewall.t", toCreate, nil,
			firewall("by-tag", map[string]any{"source_ranges": []any{}, "source_tags": []any{"bastion"}}))),
			true, true, 1, []string{"source_tags or source_service_accounts only"}},
		{"disabling the SSH rule", memPlan(rc("google_compute_firewall.ssh", toUpdate, firewall("allow-third-party-ssh", nil),
			firewall("allow-third-party-ssh", map[string]any{"disabled": true}))),
			true, false, 0, []string{"firewall rule allow-third-party-ssh (network gke) disabled: removed"}},
		{"a deny of all protocols", memPlan(rc("google_compute_firewall.all", toCreate, nil, firewall("deny-all", map[string]any{
			"priority": 10.0, "allow": []any{}, "deny": []any{map[string]any{"protocol": "all"}}}))),
			true, false, 0, []string{"deny all from 172.31.0.0/16, priority 10"}},
		{"a rule of protocols the model does not have", memPlan(rc("google_compute_firewall.esp", toCreate, nil, firewall("allow-esp", map[string]any{
			"allow": []any{map[string]any{"protocol": "esp"}}}))),
			true, true, 0, []string{"firewall rule allow-esp (network gke) created: it matches only protocols the model does not have (esp), so no modelled flow is affected"}},
		{"a value known only after apply", memPlan(func() *tfjson.ResourceChange {
			c := rc("google_compute_router.gke_router", toUpdate, router("CUSTOM"), router("DEFAULT"))
			c.Change.AfterUnknown = map[string]any{"bgp": true}
			return c
		}()), true, true, 1, []string{"NOT MODELLED: bgp: value known only after apply"}},
		{"a new master range replaces the cluster", memPlan(rc("google_container_cluster.c", toUpdate,
			map[string]any{"name": "private-cluster", "location": "us-central1-c", "private_cluster_config": []any{map[string]any{"master_ipv4_cidr_block": "192.168.32.32/28"}}},
			map[string]any{"name": "private-cluster", "location": "us-central1-c", "private_cluster_config": []any{map[string]any{"master_ipv4_cidr_block": "192.168.40.0/28"}}})),
			true, true, 1, []string{"master_ipv4_cidr_block 192.168.32.32/28 -> 192.168.40.0/28 replaces the cluster"}},
		{"no-op and read are unchanged", memPlan(rc("google_compute_router.gke_router", []tfjson.Action{tfjson.ActionNoop}, router("CUSTOM"), router("CUSTOM")),
			rc("google_compute_network.gke", []tfjson.Action{tfjson.ActionRead}, nil, map[string]any{"name": "gke"})),
			true, true, 0, []string{"0 resource change(s), 0 not modelled, 2 unchanged"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Predict(predictBaseline(t), tc.plan)
			if err != nil {
				t.Fatal(err)
			}
			check(t, p, tc.endpointAfter, tc.sshAfter, !tc.endpointAfter || !tc.sshAfter, tc.notModelled, tc.want...)
		})
	}
}

// A change that leaves the topology invalid is the plan's fault, named by its address.
func TestPredictInvalidTopology(t *testing.T) {
	for _, tc := range []struct {
		name, address, want string
		plan                *tfjson.Plan
	}{
		{"a source range that is not a CIDR", "google_compute_firewall.bad", "sourceRanges", memPlan(
			rc("google_compute_firewall.ok", toCreate, nil, map[string]any{"name": "ok", "network": "gke", "source_ranges": []any{"10.0.0.0/8"},
				"allow": []any{map[string]any{"protocol": "tcp"}}}),
			rc("google_compute_firewall.bad", toCreate, nil, map[string]any{"name": "bad", "network": "gke", "source_ranges": []any{"172.31.0.0/33"},
				"allow": []any{map[string]any{"protocol": "tcp"}}}))},
		{"deleting the cluster's peering", "google_compute_network_peering.gke", "spec.cluster.peering", memPlan(
			rc("google_compute_network_peering.gke", toDelete, map[string]any{"name": "gke-3b1a4c5d-peer", "network": "gke", "peer_network": "gke-master"}, nil))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Predict(predictBaseline(t), tc.plan)
			var pe *PlanError
			if !errors.As(err, &pe) || pe.Address != tc.address || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want a PlanError at %s mentioning %s", err, tc.address, tc.want)
			}
		})
	}
}

func TestPredictLeavesBaselineUnchanged(t *testing.T) {
	base := predictBaseline(t)
	want, _ := json.Marshal(base)
	for _, name := range []string{"export-off.plan.json", "advertise-default.plan.json", "deny-ssh-900.plan.json", "authorized-drop-third-party.plan.json"} {
		if _, err := Predict(base, fixturePlan(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Predict(base, memPlan(rc("google_compute_router.gke_router", toDelete,
		map[string]any{"name": "gke-router", "network": "gke", "region": "us-central1"}, nil))); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(base); string(got) != string(want) {
		t.Errorf("Predict changed the baseline:\n%s\nwant\n%s", got, want)
	}
}

func TestPredictBaselineProblems(t *testing.T) {
	noModel := predictBaseline(t)
	noModel.Model = nil
	if _, err := Predict(noModel, memPlan()); err == nil || !strings.Contains(err.Error(), "the baseline has no model: take it with a reachgate that imports the environment") {
		t.Errorf("a baseline without a model: %v", err)
	}
	old := predictBaseline(t)
	old.Version = 0
	if _, err := Predict(old, memPlan()); err == nil || !strings.Contains(err.Error(), "take a new baseline") {
		t.Errorf("a baseline of another version: %v", err)
	}
	// The model disagreeing with the probe is a note, not a regression.
	odd := predictBaseline(t)
	odd.Flows = append(odd.Flows, Flow{From: "tp-vm", To: "10.128.0.4:22", Outcome: probe.Timeout}, Flow{From: "nobody", To: "10.128.0.4:22", Outcome: probe.Connected})
	p, err := Predict(odd, fixturePlan(t, "deny-ssh-900.plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	fl := flowsOf(p)
	if f := fl["tp-vm -> 10.128.0.4:22"]; f.Regression || !strings.Contains(f.Note, "the baseline's probe saw Timeout") {
		t.Errorf("a flow the model finds reachable but the probe did not: %+v", f)
	}
	if f := fl["nobody -> 10.128.0.4:22"]; f.Regression || !strings.Contains(f.Note, `the model has no host "nobody"`) {
		t.Errorf("a flow from a host the model lacks: %+v", f)
	}
	if !strings.Contains(p.Text(), "- note on flow tp-vm -> 10.128.0.4:22:") {
		t.Errorf("the text lacks the note:\n%s", p.Text())
	}
}

func TestParsePlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not JSON", "{\n  \"format_version\": \"1.2\",\n  oops\n}", "plan.json: not JSON: line 3"},
		{"an array", `[1, 2]`, "plan.json: not a Terraform plan: the JSON is not an object"},
		{"no format_version", `{"resource_changes": []}`, "plan.json: not a Terraform plan: it has no format_version"},
		{"a state", `{"format_version": "1.0", "values": {}}`, "plan.json: not a Terraform plan: it has no resource_changes"},
		{"a format version from the future", `{"format_version": "7.0", "resource_changes": []}`, "plan.json: not a Terraform plan reachgate reads: unsupported plan format version"},
		{"a change without actions", `{"format_version": "1.2", "resource_changes": [{"address": "x.y", "change": {}}]}`, "plan.json: resource_changes[0] has no change.actions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePlan("plan.json", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := ParsePlan("empty.json", []byte(`{"format_version": "1.2", "planned_values": {"root_module": {}}}`)); err != nil {
		t.Errorf("a plan without changes: %v", err)
	}
}

func TestPredictionJSON(t *testing.T) {
	p, err := Predict(predictBaseline(t), fixturePlan(t, "unmodelled.plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Prediction
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, p) {
		t.Errorf("JSON round trip differs:\n%s", data)
	}
	for _, key := range []string{`"notModelled":2`, `"modelled":false`, `"baseline":"Connected"`, `"actions":["create"]`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("the JSON lacks %s:\n%s", key, data)
		}
	}
}
