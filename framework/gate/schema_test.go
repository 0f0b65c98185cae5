package gate

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"reachgate/framework/cloud"
	"reachgate/framework/probe"
	"reachgate/framework/topology"
)

// fullSnapshot has every field set, its model the bgp-export topology file.
func fullSnapshot(t *testing.T) *Snapshot {
	t.Helper()
	data, err := os.ReadFile("../../fixtures/topologies/bgp-export.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f topology.File
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return &Snapshot{Version: Version, Taken: time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC), Topology: "bgp-export",
		Routers: []Router{{Network: "gke", Name: "gke-router", Mode: "CUSTOM", Groups: []string{"ALL_SUBNETS"}, Ranges: []string{"192.168.32.32/28"},
			Peers: []string{"peer-0 169.254.10.2 64512"}, Up: 1, Learned: []string{"172.31.0.0/16"}}},
		Peerings:   []Peering{{Network: "gke", Name: "gke-3b1a4c5d-peer", ExportCustomRoutes: true}},
		Authorized: &cloud.AuthorizedNetworks{Enabled: true, CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("172.31.0.0/16")}},
		Flows: []Flow{{From: "tp-vm", To: "192.168.32.34:443", Outcome: probe.Connected, Why: "reaches",
			Certificate: &Certificate{LeafSHA256: strings.Repeat("ab", 32), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Verified: true},
			Version:     &VersionCheck{Samples: 20, P95Ms: 1.5, BudgetMs: 20, Profile: "none"}}},
		Model: &f, ModelNotes: []string{"1 static route not modelled"}}
}

// The schema accepts what reachgate writes and names the place of what it refuses.
func TestSnapshotSchema(t *testing.T) {
	data, err := json.Marshal(fullSnapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSnapshot("snap.json", data); err != nil {
		t.Fatalf("a full snapshot: %v", err)
	}
	empty, _ := json.Marshal(&Snapshot{Version: Version, Taken: time.Now(), Routers: []Router{}, Peerings: []Peering{}, Flows: []Flow{}})
	if _, err := ParseSnapshot("snap.json", empty); err != nil {
		t.Fatalf("an empty snapshot: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"no flows", func(m map[string]any) { delete(m, "flows") }, "flows"},
		{"another version", func(m map[string]any) { m["version"] = 2 }, "at /version"},
		{"unknown outcome", func(m map[string]any) { m["flows"].([]any)[0].(map[string]any)["outcome"] = "Maybe" }, "at /flows/0/outcome"},
		{"model not a topology", func(m map[string]any) { m["model"].(map[string]any)["kind"] = "Cluster" }, "at /model/kind"},
		{"unknown field", func(m map[string]any) { m["extra"] = true }, "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			tc.mutate(m)
			bad, _ := json.Marshal(m)
			_, err := ParseSnapshot("snap.json", bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "snap.json: ") {
				t.Errorf("got %v; want an error naming snap.json and %q", err, tc.want)
			}
		})
	}
	if _, err := ParseSnapshot("snap.json", []byte("{")); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("broken JSON: %v", err)
	}
}
