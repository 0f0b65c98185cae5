package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// psaFixture is the shipped PSA topology, before any solution: nothing is exported yet, so
// there is no half-applied fix to report.
const psaFixture = "../../fixtures/topologies/bgp-export-psa.yaml"

func TestTopologyPSAExport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		src  func(string) string // edits the file's text; nil keeps it
		want []string            // "line: message fragment"
	}{
		{name: "GKE peering exports, servicenetworking-googleapis-com does not, master range only",
			file: td("psa-half-fix.topology.yaml"),
			want: []string{"41: router gke-router announces the master range 192.168.32.32/28 but not the allocated range google-managed-services-gke 10.60.0.0/16",
				"113: VPC gke exports custom routes over the GKE peering gke-3b1a4c5d-peer but not over servicenetworking-googleapis-com"}},
		{name: "both exports, allocated range not announced", file: td("psa-no-advertise.topology.yaml"),
			want: []string{"40: router gke-router announces the master range 192.168.32.32/28 but not the allocated range"}},
		{name: "allocated range announced, no export over servicenetworking-googleapis-com", file: td("psa-no-export.topology.yaml"),
			want: []string{"112: VPC gke exports custom routes over the GKE peering"}},
		{name: "fixed", file: td("psa-fixed.topology.yaml")},
		{name: "a wider range covers the allocated range", file: td("psa-covering-range.topology.yaml")},
		{name: "nothing exported yet (the shipped fixture)", file: psaFixture},
		{name: "no managed-service host", file: td("psa-half-fix.topology.yaml"),
			// Without PSA (the bgp-export seed topology) the GKE peering's export is all there is.
			src: func(s string) string {
				s = cut(s, "    - name: redis-producer\n", "  hosts:\n")
				s = cut(s, "    - name: redis\n", "  links:\n")
				s = cut(s, "    - name: servicenetworking-googleapis-com\n", "  cluster:\n")
				return strings.Replace(s, "      allocatedRanges:\n        - name: google-managed-services-gke\n          cidr: 10.60.0.0/16\n", "", 1)
			}},
		{name: "explicit exportCustomRoutes: false is where the finding points", file: td("psa-half-fix.topology.yaml"),
			src: func(s string) string {
				return strings.Replace(s, "      a: {vpc: gke}\n      b: {vpc: redis-producer", "      a:\n        vpc: gke\n        exportCustomRoutes: false\n      b: {vpc: redis-producer", 1)
			},
			want: []string{"41: router gke-router", "115: VPC gke exports custom routes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if tc.src != nil {
				data = []byte(tc.src(string(data)))
			}
			tf, ierr := parseTopology(filepath.Base(tc.file), data)
			if ierr != nil {
				t.Fatal(ierr)
			}
			fs := topologyPSAExport(tf)
			sort.SliceStable(fs, func(i, j int) bool { return fs[i].Evidence.Line < fs[j].Evidence.Line })
			var got []string
			for _, f := range fs {
				if f.ID != "RG-PEER-002" || f.Evidence.Text == "" {
					t.Errorf("finding %+v: want RG-PEER-002 with evidence", f)
				}
				got = append(got, fmt.Sprintf("%d: %s", f.Evidence.Line, f.Message))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("findings:\n%s\nwant %d:\n%s", strings.Join(got, "\n"), len(tc.want), strings.Join(tc.want, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("finding %d = %q; want it to start %q", i, got[i], w)
				}
			}
		})
	}
}

// cut removes the text from the line start to (not including) the line end.
func cut(s, start, end string) string {
	i := strings.Index(s, start)
	j := strings.Index(s[i:], end)
	return s[:i] + s[i+j:]
}

// TestLintPSAFile runs the whole linter on the half-fixed topology: RG-PEER-002 twice, and
// nothing else a topology detector says.
func TestLintPSAFile(t *testing.T) {
	t.Parallel()
	res, err := Paths([]string{td("psa-half-fix.topology.yaml")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := res.Errors(); len(errs) != 0 {
		t.Fatalf("input errors: %v", errs)
	}
	var got []string
	for _, f := range res.Findings() {
		got = append(got, fmt.Sprintf("%s %s", f.Where(), f.ID))
	}
	want := []string{"testdata/psa-half-fix.topology.yaml:41 RG-PEER-002", "testdata/psa-half-fix.topology.yaml:113 RG-PEER-002"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
