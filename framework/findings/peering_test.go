package findings

import (
	"strings"
	"testing"
)

func TestDetectPeeringImport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ev       Peering
		want     int
		evidence string
	}{
		{name: "export only", ev: Peering{Network: "gke", Name: "gke-n1-peer"}},
		{name: "import, nothing imported", ev: Peering{Network: "gke", Name: "gke-n1-peer", ImportCustomRoutes: true},
			want: 1, evidence: "peering gke-n1-peer of network gke has importCustomRoutes=true; no custom route is imported over it"},
		{name: "import, routes imported", ev: Peering{Network: "gke", Name: "gke-n1-peer", ImportCustomRoutes: true, ImportedCustom: []string{"10.9.0.0/16"}},
			want: 1, evidence: "custom routes imported over it: 10.9.0.0/16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := DetectPeeringImport(tt.ev)
			if len(got) != tt.want {
				t.Fatalf("got %d findings %v; want %d", len(got), got, tt.want)
			}
			if tt.want == 0 {
				return
			}
			if got[0].ID != "RG-PEER-001" || got[0].Severity != Low {
				t.Errorf("got %s %s; want RG-PEER-001 low", got[0].ID, got[0].Severity)
			}
			if !strings.Contains(got[0].Evidence.Text, tt.evidence) {
				t.Errorf("evidence %q; want it to contain %q", got[0].Evidence.Text, tt.evidence)
			}
		})
	}
}
