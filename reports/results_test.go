package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/onsi/ginkgo/v2/types"

	"reachgate/framework/probe"
)

// sampleProbe is a probe report as a spec records it.
func sampleProbe(pass bool) *probe.Report {
	lat := make([]time.Duration, 200)
	for i := range lat {
		lat[i] = time.Duration(300+i*5) * time.Microsecond
	}
	s := probe.Summarize(lat)
	pl := probe.PathLatency{Path: "/version", Samples: 200, P50: probe.ToMs(s.P50), P95: probe.ToMs(s.P95), P99: probe.ToMs(s.P99),
		Max: probe.ToMs(s.Max), Histogram: probe.Histogram(lat)}
	r := &probe.Report{URL: "https://10.128.0.28", Profile: "none", Latency: []probe.PathLatency{pl}, Pass: pass,
		Checks: []probe.Check{{Name: probe.CheckChain, Pass: true, Reason: "chain verifies"}, {Name: probe.CheckVersions, Pass: pass, Reason: "versions"}},
		Budget: []probe.Verdict{{Item: "p95 GET /version", Measured: pl.P95.String(), Budget: "<= 20.000 ms", Pass: true, Text: "p95 within"}}}
	return r
}

// jsonRoundTrip writes reports the way `ginkgo --json-report` does and reads them back.
func jsonRoundTrip(t *testing.T, rs []types.Report) []types.Report {
	t.Helper()
	data, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var out []types.Report
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func tlsSuiteReport() types.Report {
	spec := func(containers []string, labels [][]string, text string, state types.SpecState, entries ...types.ReportEntry) types.SpecReport {
		return types.SpecReport{ContainerHierarchyTexts: containers, ContainerHierarchyLabels: labels, LeafNodeType: types.NodeTypeIt,
			LeafNodeText: text, State: state, RunTime: 2 * time.Second, ReportEntries: entries}
	}
	entry := func(name string, v any) types.ReportEntry {
		return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v)}
	}
	hardened := [][]string{{"solution", "ilb-proxy", "hardened", "nginx"}}
	seed := [][]string{{"solution", "ilb-proxy", "seed", "nginx"}}
	failed := spec([]string{"tls"}, seed, "accepts only TLS >= 1.2", types.SpecStateFailed,
		entry(EntryChecks, probe.Checks{{Name: probe.CheckVersions, Reason: "accepts TLS 1.0"}}),
		entry(EntryFinding, Finding{ID: "RG-TLS-001", Severity: "high", Title: "nginx accepts TLS 1.0", Evidence: "handshake TLS 1.0 ok", Fix: "ssl_protocols TLSv1.2 TLSv1.3;"}))
	failed.Failure = types.Failure{Message: "Expected TLS 1.0 to be refused\nmore", Location: types.CodeLocation{FileName: "suites/tls/tls_test.go", LineNumber: 9}}
	return types.Report{SuitePath: "/repo/suites/tls", SuiteDescription: "tls", SuiteSucceeded: false,
		StartTime: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), EndTime: time.Date(2026, 11, 28, 9, 2, 0, 0, time.UTC), RunTime: 2 * time.Minute,
		SpecReports: types.SpecReports{
			spec([]string{"tls", "hardened with nginx"}, [][]string{{"solution", "ilb-proxy"}, {"nginx"}}, "probes the ILB", types.SpecStatePassed,
				entry(EntryProbe, sampleProbe(true)), entry("apply seconds", "3.1")),
			spec([]string{"tls"}, hardened, "budget", types.SpecStatePassed,
				entry(EntryBudget, probe.Verdicts{{Item: "TLS days to expiry", Measured: "364 days", Budget: ">= 30 days", Pass: true, Text: "ok"}})),
			failed,
			spec([]string{"tls"}, [][]string{{"negative"}}, "expired certificate fails", types.SpecStatePassed,
				entry(EntryLabels, Labels{Solution: "negative", Variant: "expired"})),
			spec([]string{"tls"}, nil, "skipped", types.SpecStateSkipped),
			{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed}, // suite nodes appear only when they fail
		}}
}

func TestFromGinkgoReports(t *testing.T) {
	t.Parallel()
	res := FromGinkgoReports(jsonRoundTrip(t, []types.Report{tlsSuiteReport()}))
	if diff := cmp.Diff(Summary{Specs: 5, Passed: 3, Failed: 1, Skipped: 1}, res.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	specs := res.Suites[0].Specs
	wantMatrix := []Labels{
		{Solution: "ilb-proxy", Variant: "hardened", Proxy: "nginx"}, // variant from the container text
		{Solution: "ilb-proxy", Variant: "hardened", Proxy: "nginx"},
		{Solution: "ilb-proxy", Variant: "seed", Proxy: "nginx"},
		{Solution: "negative", Variant: "expired"}, // EntryLabels overrides
		{},
	}
	for i, w := range wantMatrix {
		if specs[i].Matrix != w {
			t.Errorf("spec %q matrix %+v; want %+v", specs[i].Name, specs[i].Matrix, w)
		}
	}
	if len(res.Measurements) != 1 || res.Measurements[0].Probe.Latency[0].Samples != 200 || res.Measurements[0].Labels.Proxy != "nginx" {
		t.Errorf("measurements %+v; want the one probe report with its latency", res.Measurements)
	}
	if len(specs[0].Checks) != 2 || len(specs[0].Budget) != 1 || specs[0].Entries["apply seconds"] != "3.1" {
		t.Errorf("spec 0: checks %v budget %v entries %v; want the probe's checks and budget and the other entry", specs[0].Checks, specs[0].Budget, specs[0].Entries)
	}
	if specs[2].State != "failed" || specs[2].Failure != "Expected TLS 1.0 to be refused" || !strings.Contains(specs[2].Location, "tls_test.go:9") {
		t.Errorf("failed spec %+v; want state, first failure line and location", specs[2])
	}
	if len(res.Findings) != 1 || res.Findings[0].Variant != "seed" || res.Findings[0].Spec == "" {
		t.Errorf("findings %+v; want one, placed at the spec's row", res.Findings)
	}
	if res.Meta.DurationS != 120 {
		t.Errorf("duration %v; want 120 s", res.Meta.DurationS)
	}
}

func TestFromJUnit(t *testing.T) {
	t.Parallel()
	s := FromGinkgo(tlsSuiteReport(), "tls", props)
	res := FromJUnit(Suites{Suites: []Suite{s}})
	if res.Summary.Specs != 5 || res.Summary.Failed != 1 || res.Summary.Skipped != 1 {
		t.Errorf("summary %+v; want 5 specs, 1 failed, 1 skipped", res.Summary)
	}
	if got := res.Suites[0].Specs[2].Matrix; got != (Labels{Solution: "ilb-proxy", Variant: "seed", Proxy: "nginx"}) {
		t.Errorf("matrix from the JUnit case name: %+v", got)
	}
	if res.Meta.Provider != "lab" || res.Meta.Topology != "seed" {
		t.Errorf("meta %+v; want provider and topology from the properties", res.Meta)
	}
}

func TestFindingValidate(t *testing.T) {
	t.Parallel()
	ok := Finding{ID: "X", Severity: "low", Title: "t", Evidence: "e", Fix: "f"}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid finding: %v", err)
	}
	bad := ok
	bad.Severity, bad.Fix = "urgent", ""
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "missing fix") {
		t.Errorf("invalid finding: %v; want the missing field named", err)
	}
	bad.Fix = "f"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "use one of critical") {
		t.Errorf("bad severity: %v", err)
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Build(dir); err == nil || !strings.Contains(err.Error(), "nothing to report") {
		t.Errorf("empty dir: %v; want 'nothing to report'", err)
	}
	data, _ := json.Marshal([]types.Report{tlsSuiteReport()})
	if err := os.MkdirAll(filepath.Join(dir, GinkgoDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, GinkgoDir, "tls.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	extra := `[{"id":"RG-SEED-002","severity":"critical","title":"cluster-admin token","evidence":"clusterrolebinding my-cluster-admin-binding-1","fix":"bind a node-reader role"}]`
	if err := os.WriteFile(filepath.Join(dir, FindingsJSON), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 || !cmp.Equal(res.Meta.Source, []string{"ginkgo/tls.json", FindingsJSON}) {
		t.Errorf("findings %d, sources %v; want 2 findings from ginkgo/tls.json and findings.json", len(res.Findings), res.Meta.Source)
	}
	var back Results
	raw, err := os.ReadFile(filepath.Join(dir, ResultsJSON))
	if err != nil || json.Unmarshal(raw, &back) != nil || back.Schema != ResultsSchema || back.Summary.Specs != 5 {
		t.Errorf("results.json: %v, schema %q specs %d", err, back.Schema, back.Summary.Specs)
	}
	html, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="matrix"`, "ilb-proxy / seed / nginx", "RG-SEED-002", "<svg", "GET /version", "budget: p95 GET /version"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://fonts", "<link", "src="} {
		if bad == "http://" {
			// The only URL allowed is the SVG namespace.
			if strings.Count(string(html), "http://") != strings.Count(string(html), "http://www.w3.org/2000/svg") {
				t.Error("report.html references an external http:// resource")
			}
			continue
		}
		if strings.Contains(string(html), bad) {
			t.Errorf("report.html holds %q: it must need no external asset", bad)
		}
	}
	// Invalid findings.json is refused with its path.
	if err := os.WriteFile(filepath.Join(dir, FindingsJSON), []byte(`[{"id":"X"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(dir); err == nil || !strings.Contains(err.Error(), "findings.json") {
		t.Errorf("invalid findings.json: %v; want an error naming the file", err)
	}
}
