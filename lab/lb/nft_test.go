package lb

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestRules(t *testing.T) {
	t.Parallel()
	base := Spec{Name: "default-nginx", VIP: "10.128.0.28", Ports: []int{443}}
	twoPorts := base
	twoPorts.Ports = []int{80, 443}
	regional := base
	regional.Admit = []string{"10.128.0.0/20", "10.36.0.0/14", "10.36.1.0/24", "172.31.0.0/16"}
	for _, tc := range []struct {
		golden   string
		spec     Spec
		backends []string
	}{
		{"no-backends", base, nil},
		{"one-backend", base, []string{"10.36.0.2"}},
		{"two-backends", base, []string{"10.36.0.2", "10.36.0.3"}},
		{"two-ports", twoPorts, []string{"10.36.0.2", "10.36.0.3"}},
		// without global access only the LB region's clients are admitted
		{"admit", regional, []string{"10.36.0.2"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			t.Parallel()
			got := Rules(tc.spec, tc.backends)
			path := filepath.Join("testdata", tc.golden+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Rules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTableName(t *testing.T) {
	t.Parallel()
	if got, want := TableName("default-nginx"), "rg_lb_default_nginx"; got != want {
		t.Errorf("TableName = %q; want %q", got, want)
	}
}
