package framework_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listedPackage is the part of `go list -json` output the import rules need.
type listedPackage struct {
	ImportPath   string
	Dir          string
	Imports      []string // imports of the non-test files
	TestImports  []string // imports of the package's own _test.go files
	XTestImports []string // imports of the external (package x_test) _test.go files
	GoFiles      []string
	TestGoFiles  []string
	XTestGoFiles []string
	// IgnoredGoFiles are excluded by build constraints here, and still checked file by file.
	IgnoredGoFiles []string
	Error          *struct{ Err string }
	// Files maps each file's base name to its imports, for rules that hold file by file;
	// go list does not report it: parseFiles fills it in.
	Files map[string][]string `json:"-"`
}

// importRule forbids packages under From (other than those under Except) some imports:
// anything under one of Forbid, and anything under Within that is under none of Allow.
type importRule struct {
	From   string
	Except string
	Forbid []string
	Within string
	Allow  []string
	// Tests makes the rule hold for the imports of _test.go files too.
	Tests bool
	// ByFile makes the rule hold file by file (listedPackage.Files), except in the files
	// named in ExceptFiles and their own _test.go files (lab.go and lab_test.go).
	ByFile      bool
	ExceptFiles []string
	Why         string
}

const (
	labWhy = "lab/ is the emulation: from reachgate it imports only lab/ and the shared leaves " +
		"framework/topology, framework/cloud, framework/pki and framework/netmodel, and never Ginkgo/Gomega"
	leafWhy = "framework/topology, framework/cloud, framework/pki and framework/netmodel are the leaves lab/ and framework/ share: " +
		"they import nothing else of reachgate (cloud and netmodel may import topology)"
	fwWhy        = "framework/ returns errors and never calls Gomega; suites call framework, not the reverse"
	fwLabWhy     = "only framework/provider/lab imports lab/; the rest of framework/ reaches the lab through the provider"
	suiteLabWhy  = "suites reach the lab only through the provider; they never import lab/"
	cmdLabWhy    = "in cmd/reachgate only the lab's own commands and hidden daemons import lab/; the rest goes through the provider"
	suiteWhy     = "nothing outside suites/ imports suites/"
	labProvider  = "reachgate/framework/provider/lab"
	cmdReachgate = "reachgate/cmd/reachgate"
)

// importRules is the import direction: cmd -> framework -> provider/lab -> lab, with
// framework/topology, framework/cloud and framework/pki shared by both sides;
// suites -> framework, fixtures, reports; nothing imports suites.
var importRules = []importRule{
	{
		From:   "reachgate/lab",
		Within: "reachgate",
		Allow:  []string{"reachgate/lab", "reachgate/framework/topology", "reachgate/framework/cloud", "reachgate/framework/pki", "reachgate/framework/netmodel"},
		Forbid: []string{"github.com/onsi/ginkgo", "github.com/onsi/gomega"},
		Tests:  true,
		Why:    labWhy,
	},
	{From: "reachgate/framework/topology", Within: "reachgate", Allow: []string{"reachgate/framework/topology"}, Tests: true, Why: leafWhy},
	{From: "reachgate/framework/cloud", Within: "reachgate", Allow: []string{"reachgate/framework/cloud", "reachgate/framework/topology"}, Tests: true, Why: leafWhy},
	{From: "reachgate/framework/pki", Within: "reachgate", Allow: []string{"reachgate/framework/pki"}, Tests: true, Why: leafWhy},
	{From: "reachgate/framework/netmodel", Within: "reachgate", Allow: []string{"reachgate/framework/netmodel", "reachgate/framework/topology"}, Tests: true, Why: leafWhy},
	{
		From:   "reachgate/framework",
		Forbid: []string{"reachgate/suites", "github.com/onsi/gomega"},
		Why:    fwWhy,
	},
	{
		// Importing the lab provider would bring lab/ in as well, so it is forbidden too:
		// the lab provider is registered by blank imports in cmd/ and suites/.
		From:   "reachgate/framework",
		Except: labProvider,
		Forbid: []string{"reachgate/lab", labProvider},
		Tests:  true,
		Why:    fwLabWhy,
	},
	{From: "reachgate/suites", Forbid: []string{"reachgate/lab"}, Tests: true, Why: suiteLabWhy},
	{
		From:        cmdReachgate,
		Forbid:      []string{"reachgate/lab"},
		Tests:       true,
		ByFile:      true,
		ExceptFiles: []string{"lab.go", "gcpapi.go", "explain.go", "bgp.go", "vpn.go", "wan.go", "ilb.go", "proxy.go", "rootless.go", "container.go"},
		Why:         cmdLabWhy,
	},
	{
		From:   "reachgate",
		Except: "reachgate/suites",
		Forbid: []string{"reachgate/suites"},
		Why:    suiteWhy,
	},
}

// under reports whether path is root or inside it (reachgate/labx is not under reachgate/lab).
func under(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+"/")
}

// underAny reports whether path is under one of roots.
func underAny(path string, roots []string) bool {
	for _, r := range roots {
		if under(path, r) {
			return true
		}
	}
	return false
}

// breaks reports whether importing imp breaks r.
func (r importRule) breaks(imp string) bool {
	return underAny(imp, r.Forbid) || (r.Within != "" && under(imp, r.Within) && !underAny(imp, r.Allow))
}

// importer is a set of imports and what to call their importer in a violation.
type importer struct {
	name    string
	imports []string
}

// importers lists what r checks in p: the package's imports, its test files' imports when
// r.Tests, or each file's when r.ByFile.
func (r importRule) importers(p listedPackage) []importer {
	if r.ByFile {
		var out []importer
		for _, f := range slices.Sorted(maps.Keys(p.Files)) {
			test := strings.HasSuffix(f, "_test.go")
			if (test && !r.Tests) || slices.Contains(r.ExceptFiles, f) ||
				(test && slices.Contains(r.ExceptFiles, strings.TrimSuffix(f, "_test.go")+".go")) {
				continue
			}
			out = append(out, importer{p.ImportPath + "/" + f, p.Files[f]})
		}
		return out
	}
	out := []importer{{p.ImportPath, p.Imports}}
	if r.Tests {
		var tests []string
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if !slices.Contains(p.Imports, imp) && !slices.Contains(tests, imp) {
				tests = append(tests, imp)
			}
		}
		out = append(out, importer{p.ImportPath + " (tests)", tests})
	}
	return out
}

// violations lists every import that breaks a rule, as "pkg imports dep: why".
func violations(pkgs []listedPackage, rules []importRule) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.From) || (r.Except != "" && under(p.ImportPath, r.Except)) {
				continue
			}
			for _, im := range r.importers(p) {
				for _, imp := range im.imports {
					if r.breaks(imp) {
						out = append(out, im.name+" imports "+imp+": "+r.Why)
					}
				}
			}
		}
	}
	return out
}

func TestViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pkg  listedPackage
		want []string
	}{
		{"lab imports lab and the leaves", listedPackage{ImportPath: "reachgate/lab/netns",
			Imports:     []string{"reachgate/framework/topology", "reachgate/framework/cloud", "reachgate/framework/pki", "reachgate/framework/netmodel", "os"},
			TestImports: []string{"reachgate/lab/internal/roottest"}}, nil},
		{"lab root imports ginkgo types", listedPackage{ImportPath: "reachgate/lab", Imports: []string{"github.com/onsi/ginkgo/v2/types"}},
			[]string{"reachgate/lab imports github.com/onsi/ginkgo/v2/types: " + labWhy}},
		{"lab imports gomega subpackage", listedPackage{ImportPath: "reachgate/lab/netns", Imports: []string{"github.com/onsi/gomega/types"}},
			[]string{"reachgate/lab/netns imports github.com/onsi/gomega/types: " + labWhy}},
		{"lab imports framework", listedPackage{ImportPath: "reachgate/lab/bgp", Imports: []string{"reachgate/framework/probe"}},
			[]string{"reachgate/lab/bgp imports reachgate/framework/probe: " + labWhy}},
		{"lab test imports framework", listedPackage{ImportPath: "reachgate/lab/bgp", XTestImports: []string{"reachgate/framework/provider"}},
			[]string{"reachgate/lab/bgp (tests) imports reachgate/framework/provider: " + labWhy}},
		{"lab imports fixtures", listedPackage{ImportPath: "reachgate/lab/gke", Imports: []string{"reachgate/fixtures"}},
			[]string{"reachgate/lab/gke imports reachgate/fixtures: " + labWhy}},
		{"lab imports reports", listedPackage{ImportPath: "reachgate/lab/wan", Imports: []string{"reachgate/reports"}},
			[]string{"reachgate/lab/wan imports reachgate/reports: " + labWhy}},
		{"lab imports suites", listedPackage{ImportPath: "reachgate/lab/vpn", Imports: []string{"reachgate/suites/harness"}},
			[]string{"reachgate/lab/vpn imports reachgate/suites/harness: " + labWhy, "reachgate/lab/vpn imports reachgate/suites/harness: " + suiteWhy}},
		{"leaf imports framework/probe", listedPackage{ImportPath: "reachgate/framework/topology", Imports: []string{"reachgate/framework/probe"}},
			[]string{"reachgate/framework/topology imports reachgate/framework/probe: " + leafWhy}},
		{"leaf test imports fixtures", listedPackage{ImportPath: "reachgate/framework/pki", TestImports: []string{"reachgate/fixtures"}},
			[]string{"reachgate/framework/pki (tests) imports reachgate/fixtures: " + leafWhy}},
		{"cloud imports topology", listedPackage{ImportPath: "reachgate/framework/cloud", Imports: []string{"reachgate/framework/topology", "net/netip"}}, nil},
		{"cloud imports pki", listedPackage{ImportPath: "reachgate/framework/cloud", Imports: []string{"reachgate/framework/pki"}},
			[]string{"reachgate/framework/cloud imports reachgate/framework/pki: " + leafWhy}},
		{"topology imports cloud", listedPackage{ImportPath: "reachgate/framework/topology", Imports: []string{"reachgate/framework/cloud"}},
			[]string{"reachgate/framework/topology imports reachgate/framework/cloud: " + leafWhy}},
		{"lab provider imports lab", listedPackage{ImportPath: labProvider, Imports: []string{"reachgate/lab/netns", "reachgate/framework/provider"}}, nil},
		{"framework imports lab", listedPackage{ImportPath: "reachgate/framework/probe", Imports: []string{"reachgate/lab/netns"}},
			[]string{"reachgate/framework/probe imports reachgate/lab/netns: " + fwLabWhy}},
		{"framework/provider imports lab", listedPackage{ImportPath: "reachgate/framework/provider", Imports: []string{"reachgate/lab"}},
			[]string{"reachgate/framework/provider imports reachgate/lab: " + fwLabWhy}},
		{"framework imports the lab provider", listedPackage{ImportPath: "reachgate/framework/solution/ilbproxy", Imports: []string{labProvider}},
			[]string{"reachgate/framework/solution/ilbproxy imports reachgate/framework/provider/lab: " + fwLabWhy}},
		{"framework test imports lab", listedPackage{ImportPath: "reachgate/framework/solution/ilbproxy", TestImports: []string{"reachgate/lab/cloud"}},
			[]string{"reachgate/framework/solution/ilbproxy (tests) imports reachgate/lab/cloud: " + fwLabWhy}},
		{"framework external test imports lab", listedPackage{ImportPath: "reachgate/framework/provider", XTestImports: []string{"reachgate/lab/netns"}},
			[]string{"reachgate/framework/provider (tests) imports reachgate/lab/netns: " + fwLabWhy}},
		{"import in both files and tests is one violation", listedPackage{ImportPath: "reachgate/framework/probe",
			Imports: []string{"reachgate/lab/netns"}, TestImports: []string{"reachgate/lab/netns"}},
			[]string{"reachgate/framework/probe imports reachgate/lab/netns: " + fwLabWhy}},
		{"framework imports ginkgo types", listedPackage{ImportPath: "reachgate/framework/probe", Imports: []string{"github.com/onsi/ginkgo/v2/types"}}, nil},
		{"framework imports gomega", listedPackage{ImportPath: "reachgate/framework/probe", Imports: []string{"github.com/onsi/gomega"}},
			[]string{"reachgate/framework/probe imports github.com/onsi/gomega: " + fwWhy}},
		{"framework imports suites", listedPackage{ImportPath: "reachgate/framework", Imports: []string{"reachgate/suites"}},
			[]string{"reachgate/framework imports reachgate/suites: " + fwWhy, "reachgate/framework imports reachgate/suites: " + suiteWhy}},
		{"suite imports the lab provider", listedPackage{ImportPath: "reachgate/suites/harness", Imports: []string{labProvider}}, nil},
		{"suite imports lab", listedPackage{ImportPath: "reachgate/suites/harness", Imports: []string{"reachgate/lab/netns"}},
			[]string{"reachgate/suites/harness imports reachgate/lab/netns: " + suiteLabWhy}},
		{"suite test imports lab", listedPackage{ImportPath: "reachgate/suites/seed", XTestImports: []string{"reachgate/lab/controlplane"}},
			[]string{"reachgate/suites/seed (tests) imports reachgate/lab/controlplane: " + suiteLabWhy}},
		{"cmd/reachgate/solution.go imports lab/cloud", listedPackage{ImportPath: cmdReachgate, Imports: []string{"reachgate/lab/cloud"},
			Files: map[string][]string{"solution.go": {"reachgate/lab/cloud", "reachgate/framework/provider"}}},
			[]string{"reachgate/cmd/reachgate/solution.go imports reachgate/lab/cloud: " + cmdLabWhy}},
		{"cmd/reachgate test of another file imports lab", listedPackage{ImportPath: cmdReachgate,
			Files: map[string][]string{"bench_test.go": {"reachgate/lab/netns"}, "lab_test.go": {"reachgate/lab"}}},
			[]string{"reachgate/cmd/reachgate/bench_test.go imports reachgate/lab/netns: " + cmdLabWhy}},
		{"cmd/reachgate lab commands import lab", listedPackage{ImportPath: cmdReachgate, Imports: []string{"reachgate/lab", "reachgate/lab/bgp"},
			Files: map[string][]string{"lab.go": {"reachgate/lab"}, "bgp.go": {"reachgate/lab/bgp"}, "main.go": {labProvider}}}, nil},
		{"cmd imports suites", listedPackage{ImportPath: cmdReachgate, Imports: []string{"reachgate/suites/baseline"}},
			[]string{"reachgate/cmd/reachgate imports reachgate/suites/baseline: " + suiteWhy}},
		{"suites import suites", listedPackage{ImportPath: "reachgate/suites/baseline", Imports: []string{"reachgate/suites/harness", "github.com/onsi/gomega"}}, nil},
		{"reports imports ginkgo", listedPackage{ImportPath: "reachgate/reports", Imports: []string{"github.com/onsi/ginkgo/v2/types"}}, nil},
		{"prefix is not a parent", listedPackage{ImportPath: "reachgate/labs", Imports: []string{"reachgate/suitesx", "github.com/onsi/gomegax"}}, nil},
		{"lab prefix is not lab", listedPackage{ImportPath: "reachgate/framework/probe", Imports: []string{"reachgate/labs"}}, nil},
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
	cmd := exec.Command("go", "list", "-e",
		"-json=ImportPath,Dir,Imports,TestImports,XTestImports,GoFiles,TestGoFiles,XTestGoFiles,IgnoredGoFiles,Error", "./...")
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
		for _, r := range importRules {
			if r.ByFile && under(p.ImportPath, r.From) && p.Files == nil {
				p.Files = parseFiles(t, p)
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// parseFiles reads the imports of each of p's files, test files and files that build
// constraints exclude here included.
func parseFiles(t *testing.T, p listedPackage) map[string][]string {
	t.Helper()
	files := map[string][]string{}
	fset := token.NewFileSet()
	for _, name := range slices.Concat(p.GoFiles, p.TestGoFiles, p.XTestGoFiles, p.IgnoredGoFiles) {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Errorf("parse imports of %s: %v", name, err)
			continue
		}
		imports := []string{}
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Errorf("%s: import %s: %v", name, spec.Path.Value, err)
				continue
			}
			imports = append(imports, path)
		}
		files[name] = imports
	}
	return files
}

func TestImportDirection(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t, moduleRoot(t))
	byPath := map[string]listedPackage{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	// Guard against an empty or wrong listing passing vacuously.
	for _, must := range []string{"reachgate/lab/netns", "reachgate/framework/topology", "reachgate/framework/probe",
		"reachgate/reports", "reachgate/suites/seed", cmdReachgate} {
		if _, ok := byPath[must]; !ok {
			t.Errorf("go list did not report %s; got %d packages", must, len(pkgs))
		}
	}
	for _, f := range []string{"lab.go", "solution.go", "main_test.go"} {
		if _, ok := byPath[cmdReachgate].Files[f]; !ok {
			t.Errorf("the imports of %s/%s were not read", cmdReachgate, f)
		}
	}
	for _, v := range violations(pkgs, importRules) {
		t.Error(v)
	}
}

// TestProviderDepsFreeOfLab: framework/provider, what suites and solutions program against,
// does not bring in any of lab/, not even indirectly.
func TestProviderDepsFreeOfLab(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps", "reachgate/framework/provider")
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "reachgate/framework/cloud") {
		t.Fatalf("go list -deps reachgate/framework/provider does not list reachgate/framework/cloud: %q", deps)
	}
	for _, d := range deps {
		if under(d, "reachgate/lab") {
			t.Errorf("reachgate/framework/provider depends on %s", d)
		}
	}
}
