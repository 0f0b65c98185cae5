package framework_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listedPackage is the part of `go list -json` output the import rules need.
type listedPackage struct {
	ImportPath string
	Imports    []string // imports of the non-test files only
	Error      *struct{ Err string }
}

// importRule forbids packages under From (other than those under Except) to import
// anything under one of Forbid.
type importRule struct {
	From   string
	Except string
	Forbid []string
	Why    string
}

// importRules is the import direction that ARCHITECTURE.md (at the repository root)
// describes: cmd -> framework -> lab; suites -> framework, fixtures, reports; nothing
// imports suites.
var importRules = []importRule{
	{
		From: "reachgate/lab",
		Forbid: []string{
			"reachgate/framework", "reachgate/suites", "reachgate/reports",
			"github.com/onsi/ginkgo", "github.com/onsi/gomega",
		},
		Why: "lab/ is the emulation: it imports nothing from framework/, suites/, reports/ or Ginkgo/Gomega",
	},
	{
		From:   "reachgate/framework",
		Forbid: []string{"reachgate/suites", "github.com/onsi/gomega"},
		Why:    "framework/ returns errors and never calls Gomega; suites call framework, not the reverse",
	},
	{
		From:   "reachgate",
		Except: "reachgate/suites",
		Forbid: []string{"reachgate/suites"},
		Why:    "nothing outside suites/ imports suites/",
	},
}

// under reports whether path is root or inside it (reachgate/labx is not under reachgate/lab).
func under(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+"/")
}

// violations lists every import that breaks a rule, as "pkg imports dep: why".
func violations(pkgs []listedPackage, rules []importRule) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.From) || (r.Except != "" && under(p.ImportPath, r.Except)) {
				continue
			}
			for _, imp := range p.Imports {
				for _, f := range r.Forbid {
					if under(imp, f) {
						out = append(out, p.ImportPath+" imports "+imp+": "+r.Why)
					}
				}
			}
		}
	}
	return out
}

func TestViolations(t *testing.T) {
	t.Parallel()
	const (
		labWhy   = "lab/ is the emulation: it imports nothing from framework/, suites/, reports/ or Ginkgo/Gomega"
		fwWhy    = "framework/ returns errors and never calls Gomega; suites call framework, not the reverse"
		suiteWhy = "nothing outside suites/ imports suites/"
	)
	tests := []struct {
		name string
		pkg  listedPackage
		want []string
	}{
		{"lab imports lab", listedPackage{ImportPath: "reachgate/lab/netns", Imports: []string{"reachgate/framework/topology", "os"}}, nil},
		{"lab root imports ginkgo types", listedPackage{ImportPath: "reachgate/lab", Imports: []string{"github.com/onsi/ginkgo/v2/types"}},
			[]string{"reachgate/lab imports github.com/onsi/ginkgo/v2/types: " + labWhy}},
		{"lab imports gomega subpackage", listedPackage{ImportPath: "reachgate/lab/netns", Imports: []string{"github.com/onsi/gomega/types"}},
			[]string{"reachgate/lab/netns imports github.com/onsi/gomega/types: " + labWhy}},
		{"lab imports framework", listedPackage{ImportPath: "reachgate/lab/bgp", Imports: []string{"reachgate/framework/probe"}},
			[]string{"reachgate/lab/bgp imports reachgate/framework/probe: " + labWhy}},
		{"lab imports reports", listedPackage{ImportPath: "reachgate/lab/wan", Imports: []string{"reachgate/reports"}},
			[]string{"reachgate/lab/wan imports reachgate/reports: " + labWhy}},
		{"lab imports suites", listedPackage{ImportPath: "reachgate/lab/vpn", Imports: []string{"reachgate/suites/harness"}},
			[]string{"reachgate/lab/vpn imports reachgate/suites/harness: " + labWhy, "reachgate/lab/vpn imports reachgate/suites/harness: " + suiteWhy}},
		{"framework imports lab", listedPackage{ImportPath: "reachgate/framework/provider/lab", Imports: []string{"reachgate/lab/netns"}}, nil},
		{"framework imports ginkgo types", listedPackage{ImportPath: "reachgate/framework/probe", Imports: []string{"github.com/onsi/ginkgo/v2/types"}}, nil},
		{"framework imports gomega", listedPackage{ImportPath: "reachgate/framework/probe", Imports: []string{"github.com/onsi/gomega"}},
			[]string{"reachgate/framework/probe imports github.com/onsi/gomega: " + fwWhy}},
		{"framework imports suites", listedPackage{ImportPath: "reachgate/framework", Imports: []string{"reachgate/suites"}},
			[]string{"reachgate/framework imports reachgate/suites: " + fwWhy, "reachgate/framework imports reachgate/suites: " + suiteWhy}},
		{"cmd imports suites", listedPackage{ImportPath: "reachgate/cmd/reachgate", Imports: []string{"reachgate/suites/baseline"}},
			[]string{"reachgate/cmd/reachgate imports reachgate/suites/baseline: " + suiteWhy}},
		{"suites import suites", listedPackage{ImportPath: "reachgate/suites/baseline", Imports: []string{"reachgate/suites/harness", "github.com/onsi/gomega"}}, nil},
		{"reports imports ginkgo", listedPackage{ImportPath: "reachgate/reports", Imports: []string{"github.com/onsi/ginkgo/v2/types"}}, nil},
		{"prefix is not a parent", listedPackage{ImportPath: "reachgate/labs", Imports: []string{"reachgate/suitesx", "github.com/onsi/gomegax"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := violations([]listedPackage{tt.pkg}, importRules)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// moduleRoot walks up from the working directory to the go.mod of module reachgate.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		// lab/kubebin has a go.mod of its own: only module reachgate's counts.
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if strings.TrimSpace(line) == "module reachgate" {
					return dir
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of module reachgate above the working directory")
		}
		dir = parent
	}
}

func listPackages(t *testing.T, root string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", root, err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil {
			// Another package being mid-edit is not an import-direction problem.
			t.Logf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportDirection(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t, moduleRoot(t))
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.ImportPath] = true
	}
	// Guard against an empty or wrong listing passing vacuously.
	for _, must := range []string{"reachgate/lab/netns", "reachgate/framework/topology", "reachgate/framework/probe", "reachgate/reports"} {
		if !seen[must] {
			t.Errorf("go list did not report %s; got %d packages", must, len(pkgs))
		}
	}
	for _, v := range violations(pkgs, importRules) {
		t.Error(v)
	}
}
