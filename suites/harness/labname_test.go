package harness

import (
	"regexp"
	"testing"

	"reachgate/framework/provider/gcp"
	"reachgate/framework/topology"
)

func TestLabName(t *testing.T) {
	saved, savedFile, savedTopo := suiteName, *topologyFile, topo
	t.Cleanup(func() { suiteName, *topologyFile, topo = saved, savedFile, savedTopo })
	valid := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$`)
	seen := map[string]string{}
	for _, tt := range []struct{ suite, file, topology, want string }{
		{"baseline", "", "", "baseline"},
		{"baseline", "/x/alt.yaml", "alt", "baseline-alt"},
		{"bgpexport", "/x/alt-bgp-export.yaml", "alt-bgp-export", ""},
		{"psa", "/x/alt-bgp-export-psa.yaml", "alt-bgp-export-psa", ""},
		{"psa", "/x/p.yaml", "Alt_Plan", "psa-alt-plan"},
	} {
		suiteName, *topologyFile, topo = tt.suite, tt.file, &topology.Topology{Name: tt.topology}
		got := labName()
		if tt.want != "" && got != tt.want {
			t.Errorf("labName(%s on %s) = %q; want %q", tt.suite, tt.topology, got, tt.want)
		}
		if !valid.MatchString(got) {
			t.Errorf("labName(%s on %s) = %q: not a valid lab name", tt.suite, tt.topology, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("labName(%s on %s) = %q, the same as for %s", tt.suite, tt.topology, got, other)
		}
		seen[got] = tt.suite + " on " + tt.topology
	}
}

// With the stand-in third party the suite runs apart from the same suite on the lab's
// third-party side: its own environment and its own name in reports.
func TestStandInRunIsNamedApart(t *testing.T) {
	saved, savedFile, savedTopo, savedProvider := suiteName, *topologyFile, topo, *providerName
	t.Cleanup(func() { suiteName, *topologyFile, topo, *providerName = saved, savedFile, savedTopo, savedProvider })
	suiteName, *topologyFile, topo, *providerName = "baseline", "", &topology.Topology{Name: "seed"}, "gcp"
	if got := labName() + " " + Name(); got != "baseline baseline-on-gcp" {
		t.Errorf("with the lab's third party: %q", got)
	}
	t.Setenv(gcp.ThirdPartyEnv, gcp.StandIn)
	if got := labName() + " " + Name(); got != "baseline-si baseline-on-gcp-stand-in" {
		t.Errorf("with the stand-in: %q; want baseline-si baseline-on-gcp-stand-in", got)
	}
}
