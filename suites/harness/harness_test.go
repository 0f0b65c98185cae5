package harness_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"reachgate/framework/checkout"
)

// A topology without a host for a role the suite needs stops the suite before anything is
// provisioned: exit status 2, with the file, the line of spec.hosts and the fix.
func TestMissingRoleExits2(t *testing.T) {
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "baseline.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./suites/baseline")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the baseline suite: %v\n%s", err, out)
	}
	seed, err := os.ReadFile(filepath.Join(root, "fixtures", "topologies", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	topo := filepath.Join(t.TempDir(), "no-client.yaml")
	data := strings.Replace(string(seed), "role: third-party-client", "role: vm", 1)
	if err := os.WriteFile(topo, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(data, "\n") {
		if l == "  hosts:" {
			line = i + 1
		}
	}
	cmd := exec.Command(bin, "-topology", topo, "-report-dir", t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("got %v; want exit status 2\n%s", err, out)
	}
	want := topo + ":" + strconv.Itoa(line) + ": spec.hosts: no host has role third-party-client, which suite baseline needs (set role: third-party-client on a host in the third-party cloud's VPC)"
	if !strings.Contains(string(out), want) {
		t.Errorf("output:\n%s\nwant it to contain:\n%s", out, want)
	}
}

// Every suite runs to the end on the core-only provider, which has none of the optional
// abilities: each spec passes, or is skipped with a reason; none fails or panics.
func TestSuitesOnCoreOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("REACHGATE_REQUIRE_ROOT_TESTS") == "1" {
			t.Fatal("this test provisions labs and needs root; REACHGATE_REQUIRE_ROOT_TESTS=1 forbids skipping it")
		}
		t.Skip("needs root (it provisions labs)")
	}
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	suites, err := filepath.Glob(filepath.Join(root, "suites", "*", "*_suite_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	nested, _ := filepath.Glob(filepath.Join(root, "suites", "*", "*", "*_suite_test.go"))
	suites = append(suites, nested...)
	if len(suites) < 7 {
		t.Fatalf("found %d suites; want at least 7", len(suites))
	}
	passed, skipped := 0, 0
	for _, s := range suites {
		rel, _ := filepath.Rel(root, filepath.Dir(s))
		dir := t.TempDir()
		report := filepath.Join(dir, "ginkgo.json")
		cmd := exec.Command("go", "test", "-count=1", "-timeout=10m", "./"+rel, "-args",
			"-provider=core-only", "-report-dir="+dir, "-ginkgo.json-report="+report)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("suite %s on core-only: %v\n%s", rel, err, tail(out, 40))
			continue
		}
		data, err := os.ReadFile(report)
		if err != nil {
			t.Errorf("suite %s: %v", rel, err)
			continue
		}
		var reps []types.Report
		if err := json.Unmarshal(data, &reps); err != nil {
			t.Fatalf("suite %s: %v", rel, err)
		}
		for _, r := range reps {
			for _, sp := range r.SpecReports {
				if sp.LeafNodeType != types.NodeTypeIt {
					continue
				}
				name := rel + ": " + sp.FullText()
				switch {
				case sp.State == types.SpecStatePassed:
					passed++
				case sp.State == types.SpecStateSkipped && sp.Failure.Message != "":
					skipped++
				case sp.State == types.SpecStateSkipped:
					t.Errorf("%s: skipped without a reason", name)
				default:
					t.Errorf("%s: %s: %s", name, sp.State, sp.Failure.Message)
				}
			}
		}
	}
	t.Logf("core-only: %d suites, %d specs passed, %d skipped with a reason", len(suites), passed, skipped)
	if passed == 0 {
		t.Error("no spec passed on core-only: the core interface alone must carry some checks")
	}
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
