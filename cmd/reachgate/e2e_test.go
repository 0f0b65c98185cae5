package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"reachgate/framework/suiterun"
)

func TestOrderLongestFirst(t *testing.T) {
	jobs := []suiterun.Job{{Name: "a"}, {Name: "b"}, {Name: "new"}, {Name: "c"}}
	orderLongestFirst(jobs, map[string]float64{"a": 10, "b": 120, "c": 45})
	var got []string
	for _, j := range jobs {
		got = append(got, j.Name)
	}
	if want := []string{"new", "b", "c", "a"}; !slices.Equal(got, want) {
		t.Errorf("order %v; want %v (never timed first, then longest first)", got, want)
	}
}

func TestE2EJobsMatrix(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "fixtures", "topologies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "fixtures", "topologies", "alt.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs := []suitePkg{{ImportPath: "reachgate/suites/baseline", Dir: "/d/baseline", ID: "baseline"}}
	jobs, err := e2eJobs(root, "/b", pkgs, "baseline:alt", []string{"-ginkgo.label-filter=x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[1].Name != "baseline@alt" || jobs[1].Binary != "/b/baseline.test" ||
		!slices.Contains(jobs[1].Env, "REACHGATE_TOPOLOGY="+filepath.Join(root, "fixtures", "topologies", "alt.yaml")) ||
		!slices.Contains(jobs[0].Args, "-ginkgo.label-filter=x") {
		t.Errorf("jobs %+v", jobs)
	}
	for _, bad := range []string{"baseline", "nosuch:alt", "baseline:nosuch", ":alt"} {
		if _, err := e2eJobs(root, "/b", pkgs, bad, nil); exitCode(err) != 2 {
			t.Errorf("--matrix %q: err %v; want exit 2", bad, err)
		}
	}
}

func TestE2ESummaryFails(t *testing.T) {
	var b strings.Builder
	res := []suiterun.Result{{Job: suiterun.Job{Name: "ok"}}, {Job: suiterun.Job{Name: "bad"}, Exit: 1}}
	err := e2eSummary(&b, res, 0)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 suites failed: bad") || !strings.Contains(b.String(), "bad") {
		t.Errorf("err %v, output %q", err, b.String())
	}
}
