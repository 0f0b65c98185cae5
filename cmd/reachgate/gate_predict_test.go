package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reachgate/reports"
)

const predictBaseline = "../../framework/gate/testdata/bgp-export.snapshot.json"

// runGatePredict runs `reachgate gate predict` and returns its exit code, stdout and stderr.
func runGatePredict(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	var out bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetArgs(append([]string{"gate", "predict"}, args...))
	code := exitCode(root.ExecuteContext(context.Background()))
	os.Stderr = stderr
	w.Close()
	errText, _ := io.ReadAll(r)
	return code, out.String(), string(errText)
}

// gate predict on fixture plans: the exit code is the verdict, the text names the flow that
// breaks and the change that breaks it; --junit has a testcase per flow and per change.
func TestGatePredict(t *testing.T) {
	for _, tc := range []struct {
		plan string
		code int
		want []string
		// tests, failures and skipped testcases in the JUnit file
		tests, failures, skipped int
	}{
		{"export-off.plan.json", 1, []string{"gate predict: REGRESSION",
			"flow tp-vm -> 192.168.32.34:443: reachable -> unreachable (baseline probe: Connected) (regression)",
			"peering gke-3b1a4c5d-peer (network gke): exportCustomRoutes true -> false"}, 3, 1, 0},
		{"labels-only.plan.json", 0, []string{"gate predict: PASS — 0 of 2 flow(s) change verdict",
			"no effect on reachability (labels/description only)"}, 3, 0, 0},
		{"unmodelled.plan.json", 0, []string{"gate predict: PASS", "NOT MODELLED: static routes are not modelled"}, 4, 0, 2},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "predict.xml")
			code, out, errText := runGatePredict(t, "--baseline", predictBaseline, "--plan", "../../fixtures/plans/"+tc.plan, "--junit", junit)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\n%s%s", code, tc.code, out, errText)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output lacks %q:\n%s", w, out)
				}
			}
			data, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			var doc reports.Suites
			if err := xml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if doc.Tests != tc.tests || doc.Failures != tc.failures || doc.Skipped != tc.skipped {
				t.Errorf("JUnit: tests %d failures %d skipped %d; want %d, %d, %d\n%s", doc.Tests, doc.Failures, doc.Skipped, tc.tests, tc.failures, tc.skipped, data)
			}
		})
	}
}

// A bad plan or baseline exits 2 and names the file.
func TestGatePredictBadInput(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "broken.plan.json")
	noModel := filepath.Join(dir, "no-model.snapshot.json")
	if err := os.WriteFile(notJSON, []byte("resource_changes: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noModel, []byte(`{"version": 1, "taken": "2026-12-06T07:00:00Z", "topology": "t", "routers": [], "peerings": [], "flows": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, baseline, plan, want string
	}{
		{"a plan that is not JSON", predictBaseline, notJSON, notJSON + ": not JSON"},
		{"a missing plan", predictBaseline, filepath.Join(dir, "absent.json"), "absent.json: cannot read the plan"},
		{"a baseline without a model", noModel, "../../fixtures/plans/export-off.plan.json", noModel + ": gate predict: the baseline has no model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := runGatePredict(t, "--baseline", tc.baseline, "--plan", tc.plan)
			if code != 2 || !strings.Contains(errText, tc.want) {
				t.Errorf("exit code %d, stderr %q; want 2 and %q\n%s", code, errText, tc.want, out)
			}
		})
	}
}
