package reports

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFidelity(t *testing.T) {
	res := &Results{Suites: []SuiteResult{
		{Name: "gcpvpc", ProvenOn: ProvenLab, Specs: []SpecResult{{Name: "a", State: "passed"}, {Name: "b", State: "failed"}}},
		{Name: "gcpvpc-on-gcp", ProvenOn: ProvenLabAPI, Specs: []SpecResult{{Name: "a [gcpvpc]", State: "passed"}}},
		{Name: "baseline@alt", Specs: []SpecResult{{Name: "c", State: "passed", Labels: []string{"agent", "gcp-api"}}, {Name: "d", State: "skipped"}}},
	}}
	nightly := &Results{Meta: Meta{Finished: time.Date(2026, 12, 6, 3, 40, 0, 0, time.UTC)}, Suites: []SuiteResult{
		{Name: "gcpvpc-on-gcp", ProvenOn: ProvenGCP, Specs: []SpecResult{{Name: "a", State: "passed"}, {Name: "b", State: "failed"}}},
	}}
	res.computeFidelity(nightly)
	byID := map[string]FidelityRow{}
	for _, r := range res.Fidelity {
		byID[r.ID] = r
	}
	if len(res.Fidelity) != 2 {
		t.Fatalf("rows %+v; want gcpvpc › a and baseline › c (failed and skipped specs prove nothing)", res.Fidelity)
	}
	if r := byID["gcpvpc › a"]; !slices.Equal(r.Proven, []string{ProvenLab, ProvenLabAPI}) || r.GCP != "2026-12-06" {
		t.Errorf("gcpvpc › a: %+v", r)
	}
	if r := byID["baseline › c"]; !slices.Equal(r.Proven, []string{ProvenLabAPI}) || r.GCP != "" {
		t.Errorf("baseline › c (drives the lab's API): %+v", r)
	}

	dir := t.TempDir()
	if err := WriteHTML(filepath.Join(dir, ReportHTML), res); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, ReportHTML))
	if !strings.Contains(string(html), `id="fidelity"`) || !strings.Contains(string(html), "only emulated") || !strings.Contains(string(html), "2026-12-06") {
		t.Error("report.html has no Fidelity table with the nightly's date and an only-emulated row")
	}
	if err := os.WriteFile(filepath.Join(dir, NightlyJSON), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readNightly(dir); err == nil {
		t.Error("a broken nightly.json was accepted")
	}
}
