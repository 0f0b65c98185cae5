package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// seedPath is the reference topology, tested where it lives.
const seedPath = "../../fixtures/topologies/seed.yaml"

// wantMarker ends the line an invalid file's error must point at.
const wantMarker = "# want-error"

func validFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return append(files, seedPath)
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	for _, path := range validFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			topo, err := Parse(filepath.Base(path), data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := json.MarshalIndent(topo, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "valid", name+".golden.json"), append(got, '\n'))
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("got %d invalid files; want at least 20", len(files))
	}
	for _, path := range files {
		base := filepath.Base(path)
		t.Run(strings.TrimSuffix(base, ".yaml"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			topo, err := Parse(base, data)
			if err == nil {
				t.Fatalf("Parse succeeded with %d hosts; want an error", len(topo.Hosts))
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("got error type %T; want *Error", err)
			}
			if e.File != base {
				t.Errorf("got File %q; want %q", e.File, base)
			}
			if want := markedLine(data); e.Line != want {
				t.Errorf("got line %d; want %d (the line marked %q, else 1): %v", e.Line, want, wantMarker, err)
			}
			golden(t, strings.TrimSuffix(path, ".yaml")+".err", []byte(err.Error()+"\n"))
		})
	}
}

// markedLine is the 1-based line holding wantMarker, or 1 if none does.
func markedLine(data []byte) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(line, []byte(wantMarker)) {
			return i + 1
		}
	}
	return 1
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./framework/topology -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	topo, err := ParseFile(seedPath)
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if topo.Source != seedPath {
		t.Errorf("got Source %q; want %q", topo.Source, seedPath)
	}
	data, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	fromBytes, err := Parse(seedPath, data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromBytes, topo, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmp.AllowUnexported(Topology{})); diff != "" {
		t.Errorf("ParseFile and Parse differ (-Parse +ParseFile):\n%s", diff)
	}

	_, err = ParseFile("testdata/no-such-file.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v; want an error wrapping fs.ErrNotExist", err)
	}
	var perr *Error
	if _, err := ParseFile("testdata/invalid/bad-cidr.yaml"); !errors.As(err, &perr) || perr.File != "testdata/invalid/bad-cidr.yaml" {
		t.Errorf("got %v; want an *Error naming the path as given", err)
	}
}

func TestParseCollectsAllProblems(t *testing.T) {
	t.Parallel()
	// Problems are found in check order (hosts before VPCs here) but reported in file order.
	src := `apiVersion: reachgate.dev/v1alpha1
kind: Topology
metadata:
  name: several
spec:
  hosts:
    - name: vm
      vpc: lab
      subnet: main
      ip: 10.0.0.1
  vpcs:
    - name: lab
      routingMode: global
      subnets:
        - name: main
          region: us-central1
          cidr: 10.0.0.0/24
`
	_, errs := parse("several.yaml", []byte(src))
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`several.yaml:10: spec.hosts[0].ip: 10.0.0.1 is the gateway of subnet "main" (10.0.0.0/24) (pick an address from 10.0.0.2 to 10.0.0.254)`,
		`several.yaml:13: spec.vpcs[0].routingMode: "global" is not a valid routing mode (write REGIONAL or GLOBAL)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
	if _, err := Parse("several.yaml", []byte(src)); err == nil || err.Error() != want[0] {
		t.Errorf("Parse: got %v; want the first problem %q", err, want[0])
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "seed.yaml", Line: 42, Field: "spec.vpcs[1].subnets[0].cidr", Msg: `"10.128.0.0/33" is not a valid CIDR (write it like 10.128.0.0/20)`},
			`seed.yaml:42: spec.vpcs[1].subnets[0].cidr: "10.128.0.0/33" is not a valid CIDR (write it like 10.128.0.0/20)`},
		{Error{File: "empty.yaml", Line: 1, Msg: "the file is empty"}, "empty.yaml:1: the file is empty"},
		{Error{File: "x.yaml", Field: "spec", Msg: "m"}, "x.yaml: spec: m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q; want %q", got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, path := range files {
			if data, err := os.ReadFile(path); err == nil {
				f.Add(data)
			}
		}
	}
	if data, err := os.ReadFile(seedPath); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := Parse("fuzz.yaml", data)
		if err == nil {
			if topo == nil {
				t.Fatal("no error and no topology")
			}
			return
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("got error type %T; want *Error", err)
		}
		if e.File != "fuzz.yaml" || e.Line < 1 || e.Msg == "" {
			t.Fatalf("incomplete error %#v", e)
		}
	})
}
