package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/onsi/ginkgo/v2/types"
)

// testdata/timing/ginkgo holds three suites' Ginkgo JSON reports, as suites/harness writes
// them: baseline (a real run: BeforeSuite, seven specs, AfterSuite), ilbproxy (no AfterSuite;
// a failed, a timed-out, a skipped and a pending spec; two specs of 12.25 s) and psa (its
// BeforeSuite failed, so no spec ran; its AfterSuite did).
const timingData = "testdata/timing"

func timingReports(t *testing.T) []types.Report {
	t.Helper()
	var all []types.Report
	for _, name := range []string{"baseline", "ilbproxy", "psa"} {
		var one []types.Report
		if err := json.Unmarshal(mustRead(t, filepath.Join(timingData, GinkgoDir, name+".json")), &one); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all = append(all, one...)
	}
	return all
}

func ptr(f float64) *float64 { return &f }

// wantTiming is the Timing of testdata/timing, worked out by hand from the reports' RunTime
// fields (nanoseconds), rounded to the millisecond.
var wantTiming = &Timing{
	Suites: []SuiteTiming{
		// RunTime 15830134500; BeforeSuite 6286037734; AfterSuite 1810536349.
		{Suite: "baseline", WallS: 15.83, LabUpS: ptr(6.286), LabUpState: "passed", LabDownS: ptr(1.811), LabDownState: "passed", Specs: 7, SpecsRun: 7},
		{Suite: "ilbproxy", WallS: 105.25, LabUpS: ptr(42), LabUpState: "passed", Specs: 7, SpecsRun: 5},
		{Suite: "psa", WallS: 184.75, LabUpS: ptr(180.5), LabUpState: "failed", LabDownS: ptr(4.25), LabDownState: "passed"},
	},
	Total: TimingTotal{WallS: 305.83, LabUpS: 228.786, LabDownS: 6.061, Specs: 14, SpecsRun: 12},
	Slowest: []SlowSpec{
		{Suite: "ilbproxy", Spec: "ilb-proxy times out <slowly> & reports it", Seconds: 30, State: "timedout"},
		// Equal times keep the report's order: "rejects" runs before "keeps".
		{Suite: "ilbproxy", Spec: "ilb-proxy rejects an unknown CA", Seconds: 12.25, State: "failed"},
		{Suite: "ilbproxy", Spec: "ilb-proxy keeps the tunnel up", Seconds: 12.25, State: "passed"},
		// 3.523808017 s in baseline comes before 3.5 s in ilbproxy, across suites.
		{Suite: "baseline", Spec: "baseline: private control plane without a solution fails kubectl at the third-party client with a timeout against the private endpoint", Seconds: 3.524, State: "passed"},
		{Suite: "ilbproxy", Spec: "ilb-proxy answers GET /version through nginx", Seconds: 3.5, State: "passed"},
		{Suite: "baseline", Spec: "baseline: private control plane without a solution times out connecting from the third-party client to the private endpoint (not refused, not reachable)", Seconds: 3.004, State: "passed"},
		{Suite: "baseline", Spec: "baseline: private control plane without a solution runs kubectl cluster-info at a GKE node: control plane at the private endpoint", Seconds: 0.442, State: "passed"},
		{Suite: "baseline", Spec: "baseline: private control plane without a solution runs kubectl get nodes at a GKE node: every node Ready", Seconds: 0.418, State: "passed"},
		{Suite: "baseline", Spec: "baseline: private control plane without a solution reads back, through its GCP API, into a topology that gives the same verdict for every host pair and port (gcp import)", Seconds: 0.329, State: "passed"},
		{Suite: "baseline", Spec: "baseline: private control plane without a solution answers GET /version over verified TLS from a GKE node with the server's gitVersion", Seconds: 0.013, State: "passed"},
		// Left out: baseline's 0.003 s and ilbproxy's 0.001 s specs (past the tenth), the
		// skipped spec of 5 s and the pending one (they did not run), and every BeforeSuite.
	},
}

func TestTimingFromGinkgoReports(t *testing.T) {
	t.Parallel()
	res := FromGinkgoReports(timingReports(t))
	if diff := cmp.Diff(wantTiming, res.Timing); diff != "" {
		t.Errorf("timing (-want +got):\n%s", diff)
	}
}

// Build on a report directory writes the timing into results.json: the lab times that were
// not recorded as null, the schema as v1.1.
func TestTimingInResultsJSON(t *testing.T) {
	t.Parallel()
	dir := copyTimingData(t)
	if _, err := Build(dir); err != nil {
		t.Fatal(err)
	}
	raw := mustRead(t, filepath.Join(dir, ResultsJSON))
	var doc struct {
		Schema string `json:"schema"`
		Timing struct {
			Suites []map[string]any `json:"suites"`
			Total  map[string]any   `json:"total"`
			Slow   []map[string]any `json:"slowestSpecs"`
		} `json:"timing"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "reachgate.dev/results/v1.3" {
		t.Errorf("schema %q; want reachgate.dev/results/v1.3", doc.Schema)
	}
	if len(doc.Timing.Suites) != 3 {
		t.Fatalf("timing.suites %v; want 3", doc.Timing.Suites)
	}
	ilb := doc.Timing.Suites[1]
	if v, ok := ilb["labDownSeconds"]; !ok || v != nil || ilb["suite"] != "ilbproxy" || ilb["wallSeconds"] != 105.25 {
		t.Errorf("ilbproxy %v; want labDownSeconds present and null, wallSeconds 105.25", ilb)
	}
	if psa := doc.Timing.Suites[2]; psa["labUpSeconds"] != 180.5 || psa["labUpState"] != "failed" || psa["specs"] != 0.0 {
		t.Errorf("psa %v; want labUpSeconds 180.5 failed, specs 0", psa)
	}
	if doc.Timing.Total["wallSeconds"] != 305.83 || len(doc.Timing.Slow) != SlowestSpecs || doc.Timing.Slow[0]["seconds"] != 30.0 {
		t.Errorf("total %v, %d slowest (first %v); want 305.83 s and 10, the first 30 s", doc.Timing.Total, len(doc.Timing.Slow), doc.Timing.Slow[0])
	}
	// A reader of results.json gets the same Timing back.
	var back Results
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantTiming, back.Timing); diff != "" {
		t.Errorf("timing read back (-want +got):\n%s", diff)
	}
}

func copyTimingData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, GinkgoDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"baseline", "ilbproxy", "psa"} {
		if err := os.WriteFile(filepath.Join(dir, GinkgoDir, name+".json"), mustRead(t, filepath.Join(timingData, GinkgoDir, name+".json")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Only specs that ran count, slowest first, at most ten; equal times keep the order of suites
// and specs; suite-level nodes are lab times, never specs.
func TestTimingSlowestOrder(t *testing.T) {
	t.Parallel()
	spec := func(text string, state types.SpecState, d time.Duration) types.SpecReport {
		return types.SpecReport{ContainerHierarchyTexts: []string{"c"}, LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, RunTime: d}
	}
	suite := func(name string, specs ...types.SpecReport) types.Report {
		return types.Report{SuiteDescription: name, RunTime: time.Minute, SpecReports: specs}
	}
	a := suite("a",
		types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed, RunTime: time.Hour},
		spec("a1", types.SpecStatePassed, 2*time.Second),
		spec("a2", types.SpecStateSkipped, 50*time.Second),
		spec("a3", types.SpecStatePassed, 2*time.Second),
		spec("a4", types.SpecStatePending, 0),
		spec("a5", types.SpecStatePanicked, 7*time.Second),
		types.SpecReport{LeafNodeType: types.NodeTypeAfterSuite, State: types.SpecStateFailed, RunTime: time.Hour},
		types.SpecReport{LeafNodeType: types.NodeTypeReportAfterSuite, State: types.SpecStatePassed, RunTime: time.Hour})
	b := suite("b",
		spec("b1", types.SpecStatePassed, 2*time.Second),
		spec("b2", types.SpecStateInterrupted, 9*time.Second),
		spec("b3", types.SpecStatePassed, 1*time.Second),
		spec("b4", types.SpecStatePassed, 2*time.Second),
		spec("b5", types.SpecStatePassed, 1500*time.Microsecond),
		spec("b6", types.SpecStatePassed, 2*time.Second),
		spec("b7", types.SpecStatePassed, 2*time.Second),
		spec("b8", types.SpecStatePassed, 2*time.Second),
		spec("b9", types.SpecStatePassed, 2*time.Second))
	tm := FromGinkgoReports(jsonRoundTrip(t, []types.Report{a, b})).Timing
	var got []string
	for _, s := range tm.Slowest {
		got = append(got, s.Suite+":"+s.Spec+":"+s.State)
	}
	want := []string{"b:c b2:interrupted", "a:c a5:panicked", "a:c a1:passed", "a:c a3:passed", "b:c b1:passed", "b:c b4:passed",
		"b:c b6:passed", "b:c b7:passed", "b:c b8:passed", "b:c b9:passed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("slowest (-want +got):\n%s", diff)
	}
	// The ReportAfterSuite node is neither lab down nor a spec.
	if a := tm.Suites[0]; a.LabUpS == nil || *a.LabUpS != 3600 || a.LabDownS == nil || *a.LabDownS != 3600 || a.LabDownState != "failed" || a.Specs != 5 || a.SpecsRun != 3 {
		t.Errorf("suite a %+v; want lab up 3600 s, lab down 3600 s failed, 5 specs of which 3 ran", a)
	}
	if tm.Suites[1].LabUpS != nil || tm.Suites[1].LabDownS != nil || tm.Suites[1].LabUpState != "" {
		t.Errorf("suite b %+v; want no lab times", tm.Suites[1])
	}
	if tm.Total.SpecsRun != 12 || tm.Total.LabUpS != 3600 || tm.Total.WallS != 120 {
		t.Errorf("total %+v; want 12 specs run, 3600 s lab up, 120 s wall", tm.Total)
	}
	// 1.5 ms rounds to 2 ms.
	if tm := FromGinkgoReports([]types.Report{suite("c", spec("c1", types.SpecStatePassed, 1500*time.Microsecond))}).Timing; tm.Slowest[0].Seconds != 0.002 {
		t.Errorf("1.5 ms spec: %v s; want 0.002", tm.Slowest[0].Seconds)
	}
	if FromGinkgoReports(nil).Timing != nil {
		t.Error("no suite: want no timing")
	}
}

// From JUnit alone: wall times and specs, and lab times only where the suite-level node
// failed (JUnit lists no other).
func TestTimingFromJUnit(t *testing.T) {
	t.Parallel()
	var doc Suites
	for _, r := range timingReports(t) {
		doc.Suites = append(doc.Suites, FromGinkgo(r, r.SuiteDescription, props))
	}
	tm := FromJUnit(doc).Timing
	want := []SuiteTiming{
		{Suite: "baseline", WallS: 15.83, Specs: 7, SpecsRun: 7},
		{Suite: "ilbproxy", WallS: 105.25, Specs: 7, SpecsRun: 5},
		{Suite: "psa", WallS: 184.75, LabUpS: ptr(180.5), LabUpState: "failed"},
	}
	if diff := cmp.Diff(want, tm.Suites); diff != "" {
		t.Errorf("suites (-want +got):\n%s", diff)
	}
	// Case names carry labels ("[solution, ilb-proxy]"); the timing keeps the full text.
	if diff := cmp.Diff(wantTiming.Slowest, tm.Slowest); diff != "" {
		t.Errorf("slowest (-want +got):\n%s", diff)
	}
}

func TestTimingWriteText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := wantTiming.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"suite     wall s       lab up s  lab down s        specs\n" +
		"baseline   15.83           6.29        1.81            7\n" +
		"ilbproxy  105.25          42.00           -    7 (5 ran)\n" +
		"psa       184.75  180.50 failed        4.25            0\n" +
		"total     305.83         228.79        6.06  14 (12 ran)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	b.Reset()
	if err := (*Timing)(nil).WriteText(&b); err != nil || b.Len() != 0 {
		t.Errorf("no timing: %q, %v; want nothing", b.String(), err)
	}
}

var (
	timingRowRE  = regexp.MustCompile(`<tr><td>([^<]*)</td><td class="num">([^<]*)</td><td class="num( [a-z]+)?" title="([^"]*)">([^<]*)</td><td class="num( [a-z]+)?" title="([^"]*)">([^<]*)</td><td class="num">([^<]*)</td></tr>`)
	slowestRowRE = regexp.MustCompile(`<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td class="num">([^<]*)</td><td class="([a-z]+)">([^<]*)</td></tr>`)
)

// section is report.html's text from the <h2> named title to the next <h2>.
func section(t *testing.T, html, title string) string {
	t.Helper()
	i := strings.Index(html, "<h2>"+title+"</h2>")
	if i < 0 {
		t.Fatalf("report.html has no %q section", title)
	}
	rest := html[i+len("<h2>"+title+"</h2>"):]
	if j := strings.Index(rest, "<h2>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestTimingHTML(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ReportHTML)
	if err := WriteHTML(path, FromGinkgoReports(timingReports(t))); err != nil {
		t.Fatal(err)
	}
	html := string(mustRead(t, path))
	sec := section(t, html, "Timing")
	if strings.Index(html, "<h2>Timing</h2>") > strings.Index(html, "<h2>Specs</h2>") {
		t.Error("the Timing section comes after Specs; want it before")
	}

	var rows [][]string
	for _, m := range timingRowRE.FindAllStringSubmatch(sec, -1) {
		rows = append(rows, m[1:])
	}
	// suite, wall, up class, up title, up, down class, down title, down, specs: in the order
	// of the suites in the results.
	want := [][]string{
		{"baseline", "15.83", "", "BeforeSuite 6.286 s", "6.29", "", "AfterSuite 1.811 s", "1.81", "7"},
		{"ilbproxy", "105.25", "", "BeforeSuite 42.000 s", "42.00", " na", "no AfterSuite in the report", "–", "7 (5 ran)"},
		{"psa", "184.75", " bad", "BeforeSuite failed after 180.500 s", "180.50 failed", "", "AfterSuite 4.250 s", "4.25", "0"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("suite rows (-want +got):\n%s", diff)
	}
	total := `<tfoot><tr><th>total</th><td class="num">305.83</td><td class="num">228.79</td><td class="num">6.06</td><td class="num">14 (12 ran)</td></tr></tfoot>`
	if !strings.Contains(sec, total) {
		t.Errorf("Timing section lacks the total row %s:\n%s", total, sec)
	}

	var slow [][]string
	for _, m := range slowestRowRE.FindAllStringSubmatch(sec, -1) {
		slow = append(slow, m[1:])
	}
	if len(slow) != SlowestSpecs {
		t.Fatalf("%d slowest rows; want %d:\n%s", len(slow), SlowestSpecs, sec)
	}
	// Spec texts are escaped like every other text of the report.
	wantFirst := [][]string{
		{"1", "ilbproxy", "ilb-proxy times out &lt;slowly&gt; &amp; reports it", "30.00", "bad", "timedout"},
		{"2", "ilbproxy", "ilb-proxy rejects an unknown CA", "12.25", "bad", "failed"},
		{"3", "ilbproxy", "ilb-proxy keeps the tunnel up", "12.25", "ok", "passed"},
		{"4", "baseline", "baseline: private control plane without a solution fails kubectl at the third-party client with a timeout against the private endpoint", "3.52", "ok", "passed"},
	}
	if diff := cmp.Diff(wantFirst, slow[:4]); diff != "" {
		t.Errorf("slowest rows (-want +got):\n%s", diff)
	}
	if last := slow[9]; last[0] != "10" || last[3] != "0.01" || last[2] != "baseline: private control plane without a solution answers GET /version over verified TLS from a GKE node with the server&#39;s gitVersion" {
		t.Errorf("tenth slowest %v; want the 0.013 s GET /version spec", last)
	}
	if strings.Contains(sec, "<slowly>") {
		t.Error("Timing section holds a spec text unescaped")
	}

	// A results.json of v1 (no timing) still renders, saying so.
	old := &Results{Schema: "reachgate.dev/results/v1", Suites: []SuiteResult{{Name: "tls", DurationS: 3}}}
	if err := WriteHTML(path, old); err != nil {
		t.Fatal(err)
	}
	if sec := section(t, string(mustRead(t, path)), "Timing"); !strings.Contains(sec, `id="timing-none"`) || strings.Contains(sec, "<table") {
		t.Errorf("no timing: Timing section %q; want the timing-none note and no table", sec)
	}
}
