package reports

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/onsi/ginkgo/v2/types"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	start   = time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	failLoc = types.CodeLocation{FileName: "suites/ilbproxy/ilbproxy_test.go", LineNumber: 42}
	props   = []Property{{Name: "provider", Value: "lab"}, {Name: "topology", Value: "seed"}}
)

// syntheticReport holds one spec report of every shape FromGinkgo distinguishes.
func syntheticReport() types.Report {
	it := func(text string, state types.SpecState, d time.Duration) types.SpecReport {
		return types.SpecReport{
			ContainerHierarchyTexts:  []string{"ilb-proxy", "from tp-vm"},
			ContainerHierarchyLabels: [][]string{{"solution", "ilb-proxy"}, nil},
			LeafNodeType:             types.NodeTypeIt,
			LeafNodeText:             text,
			State:                    state,
			RunTime:                  d,
		}
	}
	passed := it("answers 200", types.SpecStatePassed, 1500*time.Millisecond)
	passed.LeafNodeLabels = []string{"smoke", "solution"} // "solution" is inherited: listed once
	passed.ReportEntries = types.ReportEntries{
		{Name: "url", Value: types.WrapEntryValue("https://10.128.0.28")},
		{Name: "status", Value: types.WrapEntryValue(200)},
	}
	passed.CapturedGinkgoWriterOutput = "dialing 10.128.0.28:443\n"

	failed := it("rejects an unknown CA", types.SpecStateFailed, 250*time.Millisecond)
	failed.Failure = types.Failure{Message: "Expected\n    <int>: 503\nto equal\n    <int>: 200", Location: failLoc}
	failed.CapturedGinkgoWriterOutput = "GET https://10.128.0.28/healthz\n"

	skipped := it("reaches the API through BGP", types.SpecStateSkipped, 0)
	skipped.Failure = types.Failure{Message: "provider lab lacks VPN"}

	pending := it("is pending", types.SpecStatePending, 0)

	panicked := it("parses the kubeconfig", types.SpecStatePanicked, 10*time.Millisecond)
	panicked.Failure = types.Failure{Message: "Test Panicked\nnil map", Location: failLoc, ForwardedPanic: "assignment to entry in nil map"}

	timedout := it("connects within 30s", types.SpecStateTimedout, 30*time.Second)
	timedout.Failure = types.Failure{Message: "A SpecTimeout occurred", Location: failLoc}

	suiteNode := func(nt types.NodeType, state types.SpecState) types.SpecReport {
		return types.SpecReport{LeafNodeType: nt, State: state, RunTime: 2 * time.Second}
	}
	beforeFailed := suiteNode(types.NodeTypeBeforeSuite, types.SpecStateFailed)
	beforeFailed.Failure = types.Failure{Message: "provision seed: namespace rg-seed-vpc-hub exists\nrun gc", Location: types.CodeLocation{FileName: "suites/harness/harness.go", LineNumber: 61}}
	beforeFailed.CapturedGinkgoWriterOutput = "level=INFO msg=provisioning\n"

	return types.Report{
		SuitePath:   "/work/main/suites/ilbproxy",
		StartTime:   start,
		RunTime:     90 * time.Second,
		SuiteLabels: []string{"solution"},
		SpecReports: types.SpecReports{
			suiteNode(types.NodeTypeBeforeSuite, types.SpecStatePassed), // must not appear
			beforeFailed,
			passed,
			failed,
			skipped,
			pending,
			panicked,
			timedout,
			suiteNode(types.NodeTypeAfterSuite, types.SpecStatePassed),  // must not appear
			suiteNode(types.NodeTypeAfterSuite, types.SpecStateSkipped), // must not appear
		},
	}
}

const (
	prefix    = "ilb-proxy from tp-vm "
	labels    = " [solution, ilb-proxy]"
	failedLoc = "suites/ilbproxy/ilbproxy_test.go:42"
)

func TestFromGinkgo(t *testing.T) {
	t.Parallel()
	got := FromGinkgo(syntheticReport(), "ilbproxy", props)
	want := Suite{
		Name:       "ilbproxy",
		Tests:      7,
		Failures:   2,
		Errors:     2,
		Skipped:    2,
		Time:       90,
		Timestamp:  "2026-03-04T04:06:07",
		Properties: props,
		Cases: []Case{
			{
				Name: "[BeforeSuite]", Classname: "ilbproxy", Time: 2,
				Failure: &Failure{
					Message: "provision seed: namespace rg-seed-vpc-hub exists",
					Type:    "failed",
					Text:    "provision seed: namespace rg-seed-vpc-hub exists\nrun gc\nsuites/harness/harness.go:61",
				},
				SystemOut: "level=INFO msg=provisioning\n",
			},
			{
				Name: prefix + "answers 200 [solution, ilb-proxy, smoke]", Classname: "ilbproxy", Time: 1.5,
				SystemOut: "url: https://10.128.0.28\nstatus: 200\ndialing 10.128.0.28:443\n",
			},
			{
				Name: prefix + "rejects an unknown CA" + labels, Classname: "ilbproxy", Time: 0.25,
				Failure: &Failure{
					Message: "Expected",
					Type:    "failed",
					Text:    "Expected\n    <int>: 503\nto equal\n    <int>: 200\n" + failedLoc,
				},
				SystemOut: "GET https://10.128.0.28/healthz\n",
			},
			{
				Name: prefix + "reaches the API through BGP" + labels, Classname: "ilbproxy",
				Skipped: &Skipped{Message: "provider lab lacks VPN"},
			},
			{
				Name: prefix + "is pending" + labels, Classname: "ilbproxy",
				Skipped: &Skipped{},
			},
			{
				Name: prefix + "parses the kubeconfig" + labels, Classname: "ilbproxy", Time: 0.01,
				Error: &Failure{Message: "Test Panicked", Type: "panicked", Text: "Test Panicked\nnil map\n" + failedLoc + "\npanic: assignment to entry in nil map"},
			},
			{
				Name: prefix + "connects within 30s" + labels, Classname: "ilbproxy", Time: 30,
				Error: &Failure{Message: "A SpecTimeout occurred", Type: "timedout", Text: "A SpecTimeout occurred\n" + failedLoc},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromGinkgo mismatch (-want +got):\n%s", diff)
	}
}

func TestCaseName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sp   types.SpecReport
		want string
	}{
		{
			name: "it without labels",
			sp:   types.SpecReport{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{"baseline"}, LeafNodeText: "times out"},
			want: "baseline times out",
		},
		{
			name: "it with leaf labels only",
			sp:   types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: "x", LeafNodeLabels: []string{"a", "b"}},
			want: "x [a, b]",
		},
		{
			name: "container and leaf labels deduplicated",
			sp: types.SpecReport{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{"d", "c"}, LeafNodeText: "x",
				ContainerHierarchyLabels: [][]string{{"a"}, {"b", "a"}}, LeafNodeLabels: []string{"c", "b"}},
			want: "d c x [a, b, c]",
		},
		{
			name: "before suite ignores text and labels",
			sp:   types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite, LeafNodeText: "ignored", LeafNodeLabels: []string{"a"}},
			want: "[BeforeSuite]",
		},
		{
			name: "synchronized before suite",
			sp:   types.SpecReport{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite},
			want: "[SynchronizedBeforeSuite]",
		},
		{
			name: "after suite",
			sp:   types.SpecReport{LeafNodeType: types.NodeTypeAfterSuite},
			want: "[AfterSuite]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := caseName(tt.sp); got != tt.want {
				t.Errorf("caseName() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestFromGinkgoSuiteNodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nt    types.NodeType
		state types.SpecState
		want  int // cases emitted
	}{
		{"passed BeforeSuite", types.NodeTypeBeforeSuite, types.SpecStatePassed, 0},
		{"skipped BeforeSuite", types.NodeTypeBeforeSuite, types.SpecStateSkipped, 0},
		{"failed BeforeSuite", types.NodeTypeBeforeSuite, types.SpecStateFailed, 1},
		{"interrupted SynchronizedBeforeSuite", types.NodeTypeSynchronizedBeforeSuite, types.SpecStateInterrupted, 1},
		{"failed AfterSuite", types.NodeTypeAfterSuite, types.SpecStateFailed, 1},
		{"passed It", types.NodeTypeIt, types.SpecStatePassed, 1},
		{"skipped It", types.NodeTypeIt, types.SpecStateSkipped, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := types.Report{SpecReports: types.SpecReports{{LeafNodeType: tt.nt, State: tt.state}}}
			s := FromGinkgo(r, "s", nil)
			if len(s.Cases) != tt.want || s.Tests != tt.want {
				t.Errorf("got %d cases (Tests=%d); want %d", len(s.Cases), s.Tests, tt.want)
			}
		})
	}
}

func TestWriteSuiteGolden(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "ilbproxy.xml") // WriteSuite creates parents
	if err := WriteSuite(path, FromGinkgo(syntheticReport(), "ilbproxy", props)); err != nil {
		t.Fatalf("WriteSuite: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte(xml.Header)) {
		t.Errorf("file starts %q; want the XML header", got[:min(len(got), 40)])
	}
	golden := filepath.Join("testdata", "suite.golden.xml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	one := FromGinkgo(syntheticReport(), "ilbproxy", props)
	path := filepath.Join(t.TempDir(), "ilbproxy.xml")
	if err := WriteSuite(path, one); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Encode(&b, one); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if diff := cmp.Diff(string(file), b.String()); diff != "" {
		t.Errorf("Encode and WriteSuite differ (-WriteSuite +Encode):\n%s", diff)
	}

	// A suite built by hand (as lint builds one) has no timestamp: the attribute is left out.
	lint := Suite{Name: "reachgate lint", Tests: 2, Failures: 1, Cases: []Case{
		{Name: "a.conf", Classname: "lint.nginx"},
		{Name: "b.conf:4 RG-NGINX-001", Classname: "lint.nginx", Failure: &Failure{Message: "m", Type: "high", Text: "t"}},
	}}
	b.Reset()
	if err := Encode(&b, one, lint); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if strings.Contains(b.String(), `timestamp=""`) {
		t.Errorf("empty timestamp written:\n%s", b.String())
	}
	var doc Suites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 9 || doc.Failures != 3 || doc.Errors != 2 || len(doc.Suites) != 2 {
		t.Errorf("got %d tests, %d failures, %d errors in %d suites; want 9, 3, 2 in 2", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
}

func readSuites(t *testing.T, path string) Suites {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc Suites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return doc
}

func TestMerge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := FromGinkgo(syntheticReport(), "ilbproxy", props)
	two := FromGinkgo(types.Report{StartTime: start, RunTime: 10 * time.Second, SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "times out", State: types.SpecStatePassed, RunTime: time.Second},
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "is refused", State: types.SpecStateFailed, Failure: types.Failure{Message: "boom"}},
	}}, "baseline", []Property{{Name: "provider", Value: "lab"}})
	// Written out of name order: Merge sorts by file name.
	if err := WriteSuite(filepath.Join(dir, "ilbproxy.xml"), one); err != nil {
		t.Fatal(err)
	}
	if err := WriteSuite(filepath.Join(dir, "baseline.xml"), two); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not junit <"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out", "junit.xml")
	if err := Merge(dir, out); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	got := readSuites(t, out)

	type totals struct{ Tests, Failures, Errors, Skipped int }
	gotTotals := totals{got.Tests, got.Failures, got.Errors, got.Skipped}
	wantTotals := totals{
		Tests:    one.Tests + two.Tests,
		Failures: one.Failures + two.Failures,
		Errors:   one.Errors + two.Errors,
		Skipped:  one.Skipped + two.Skipped,
	}
	if wantTotals != (totals{9, 3, 2, 2}) {
		t.Fatalf("inputs changed: totals %+v", wantTotals)
	}
	if gotTotals != wantTotals {
		t.Errorf("got totals %+v; want %+v", gotTotals, wantTotals)
	}
	if got.Time != 100 {
		t.Errorf("got time %v; want %v", got.Time, 100)
	}
	if diff := cmp.Diff([]Suite{two, one}, got.Suites); diff != "" {
		t.Errorf("merged suites mismatch (-want +got):\n%s", diff)
	}
}

func TestMergeEmptyDir(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "junit.xml")
	if err := Merge(t.TempDir(), out); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	got := readSuites(t, out)
	if got.Tests != 0 || len(got.Suites) != 0 {
		t.Errorf("got %d tests in %d suites; want 0 in 0", got.Tests, len(got.Suites))
	}
}

func TestMergeMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
	}{
		{"truncated", `<?xml version="1.0"?><testsuites tests="1"><testsuite name="x">`},
		{"wrong root", `<testsuite name="x" tests="1"></testsuite>`},
		{"not xml", "tests: 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := WriteSuite(filepath.Join(dir, "a-good.xml"), FromGinkgo(syntheticReport(), "good", nil)); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(dir, "b-bad.xml")
			if err := os.WriteFile(bad, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "junit.xml")
			err := Merge(dir, out)
			if err == nil {
				t.Fatalf("Merge with %s: got nil error; want one naming %s", tt.name, bad)
			}
			if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "JUnit") {
				t.Errorf("got error %q; want it to name %s and JUnit", err, bad)
			}
			if _, statErr := os.Stat(out); statErr == nil {
				t.Errorf("got %s written; want no merged file after an error", out)
			}
		})
	}
}
