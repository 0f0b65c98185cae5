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
	jobs, err := e2eJobs(root, "/b", pkgs, "baseline:alt", "baseline", []string{"-ginkgo.label-filter=x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || jobs[2].Name != "baseline-on-gcp" || !slices.Contains(jobs[2].Env, "REACHGATE_GCP_LAB=new") || !slices.Contains(jobs[2].Env, "REACHGATE_PROVIDER=gcp") {
		t.Errorf("the gcp provider's job: %+v", jobs)
	}
	if _, err := e2eJobs(root, "/b", pkgs, "", "nosuch", nil); exitCode(err) != 2 {
		t.Errorf("--gcp-lab-suites nosuch: err %v; want exit 2", err)
	}
	if len(jobs) != 3 || jobs[1].Name != "baseline@alt" || jobs[1].Binary != "/b/baseline.test" ||
		!slices.Contains(jobs[1].Env, "REACHGATE_TOPOLOGY="+filepath.Join(root, "fixtures", "topologies", "alt.yaml")) ||
		!slices.Contains(jobs[0].Args, "-ginkgo.label-filter=x") {
		t.Errorf("jobs %+v", jobs)
	}
	for _, bad := range []string{"baseline", "nosuch:alt", "baseline:nosuch", ":alt"} {
		if _, err := e2eJobs(root, "/b", pkgs, bad, "", nil); exitCode(err) != 2 {
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

// The build key follows the module's files and nothing a build or a run writes.
func TestSuiteBuildKey(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example\n")
	write("suites/a/a_test.go", "package a\n")
	write("fixtures/topologies/seed.yaml", "name: seed\n")
	key := func() string {
		t.Helper()
		k, err := suiteBuildKey(root)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key()
	if key() != k0 {
		t.Fatal("the key is not stable")
	}
	// What builds and runs write, and nested modules, leave it alone.
	write("bin/suites/a.test", "binary")
	write("reports/out/results.json", "{}")
	write(".git/HEAD", "ref")
	write("lab/kubebin/go.mod", "module kubebin\n")
	write("lab/kubebin/main.go", "package main\n")
	if k := key(); k != k0 {
		t.Fatalf("key changed from %s to %s for files outside the build", k0, k)
	}
	// A source or an embedded fixture changes it.
	write("suites/a/a_test.go", "package a // edited\n")
	k1 := key()
	if k1 == k0 {
		t.Fatal("a source edit left the key unchanged")
	}
	write("fixtures/topologies/seed.yaml", "name: seed2\n")
	if key() == k1 {
		t.Fatal("a fixture edit left the key unchanged")
	}
	// Up to date only with the same key and every binary present.
	bin := filepath.Join(root, "bin", "suites")
	pkgs := []suitePkg{{ID: "a"}, {ID: "b"}}
	k := key()
	write("bin/suites/build.key", k+"\n")
	if suitesUpToDate(bin, k, pkgs) {
		t.Fatal("up to date with b.test missing")
	}
	write("bin/suites/b.test", "binary")
	if !suitesUpToDate(bin, k, pkgs) {
		t.Fatal("not up to date with the same key and both binaries")
	}
	if suitesUpToDate(bin, k0, pkgs) {
		t.Fatal("up to date under another key")
	}
}
