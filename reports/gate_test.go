package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Gate runs appended to gate.json reach results.json and a Gate section of report.html; a
// broken gate.json is refused with its path.
func TestBuildWithGateRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, _ := json.Marshal([]types.Report{tlsSuiteReport()})
	if err := os.MkdirAll(filepath.Join(dir, GinkgoDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, GinkgoDir, "tls.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	runs := []GateRun{
		{Kind: "predict", Name: "snap.json + export-off.plan.json", When: when, Regression: true,
			Flows: []GateFlow{{Flow: "tp-vm -> 192.168.32.34:443", Before: "reachable", After: "unreachable",
				Why: "peering gke-peer lost exportCustomRoutes", Regression: true}},
			Changes: []GateChange{{What: "google_compute_network_peering_routes_config.gke", After: "exportCustomRoutes true -> false"},
				{What: "google_dns_record_set.api", After: "type google_dns_record_set", NotModelled: true}}},
		{Kind: "check", Name: "snap.json", When: when},
	}
	for _, r := range runs {
		if err := AppendGateRun(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Gate) != 2 || !res.Gate[0].Regression || res.Meta.Source[len(res.Meta.Source)-1] != GateJSON {
		t.Errorf("gate runs %+v, sources %v", res.Gate, res.Meta.Source)
	}
	html, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Gate</h2>", "export-off.plan.json", "REGRESSION", "PASS", "tp-vm -&gt; 192.168.32.34:443",
		"lost exportCustomRoutes", "(not modelled)", "No flow changed verdict."} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// A pull request's gate leaves only gate.json: it is reported on its own.
	only := t.TempDir()
	if err := AppendGateRun(only, runs[0]); err != nil {
		t.Fatal(err)
	}
	if res, err := Build(only); err != nil || len(res.Gate) != 1 {
		t.Errorf("gate.json alone: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, GateJSON), []byte(`{"kind": "check"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(dir); err == nil || !strings.Contains(err.Error(), GateJSON) {
		t.Errorf("broken gate.json: %v; want an error naming it", err)
	}
}
