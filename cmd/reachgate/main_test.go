package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// A malformed topology must stop `lab up` before anything is created, with one error
// naming file and line, and exit code 2.
func TestLabUpRejectsMalformedTopology(t *testing.T) {
	cases := []struct {
		name, body string
		want       *regexp.Regexp
	}{
		{"unknown-field", "apiVersion: reachgate.dev/v1alpha1\nkind: Topology\nmetadata:\n  name: x\n  colour: red\nspec: {}\n",
			regexp.MustCompile(`^\S+unknown-field\.yaml:5: metadata\.colour: `)},
		{"bad-cidr", "apiVersion: reachgate.dev/v1alpha1\nkind: Topology\nmetadata:\n  name: x\nspec:\n  vpcs:\n    - name: a\n      subnets:\n        - name: s\n          region: us-central1\n          cidr: 10.0.0.0/33\n",
			regexp.MustCompile(`^\S+bad-cidr\.yaml:11: spec\.vpcs\[0\]\.subnets\[0\]\.cidr: `)},
		{"missing-file", "", regexp.MustCompile(`missing-file\.yaml.*cannot read`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name+".yaml")
			if tc.body != "" {
				if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("REACHGATE_STATE_DIR", t.TempDir())
			root := newRootCommand()
			root.SetArgs([]string{"lab", "up", "-f", path})
			err := root.ExecuteContext(context.Background())
			if err == nil {
				t.Fatal("lab up accepted a malformed topology")
			}
			if !tc.want.MatchString(err.Error()) {
				t.Errorf("got error %q; want it to match %s", err, tc.want)
			}
			if code := exitCode(err); code != 2 {
				t.Errorf("got exit code %d; want 2", code)
			}
		})
	}
}

// explain on the seed topology file: the baseline verdicts, as exit codes.
func TestLabExplainSeedVerdicts(t *testing.T) {
	cases := []struct {
		from, to string
		code     int
	}{
		{"tp-vm", "192.168.32.34:443", 1},
		{"gke-private-cluster-default-pool-a9966b2c-gq92", "192.168.32.34:443", 0},
		{"tp-vm", "gke-private-cluster-default-pool-a9966b2c-gq92", 0},
		{"tp-vm", "jumpbox", 1},
		// the seed firewall admits the third party on SSH only
		{"tp-vm", "10.128.0.3:22", 0},
		{"tp-vm", "10.128.0.3:443", 1},
	}
	for _, tc := range cases {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			root := newRootCommand()
			root.SetArgs([]string{"lab", "explain", "-f", "../../fixtures/topologies/seed.yaml", "--from", tc.from, "--to", tc.to, "--json"})
			err := root.ExecuteContext(context.Background())
			if got := exitCode(err); got != tc.code {
				t.Errorf("got exit code %d (%v); want %d", got, err, tc.code)
			}
		})
	}
}

// Every command is registered in newRootCommand's one list, the daemons (hidden) included.
func TestEveryCommandRegistered(t *testing.T) {
	got := map[string]bool{}
	for _, c := range newRootCommand().Commands() {
		got[c.Name()] = true
	}
	for _, name := range []string{"lab", "solution", "probe", "lint", "report", "bench", "kubectl", "ilb", "proxy", "wan", "vpn", "bgp"} {
		if !got[name] {
			t.Errorf("reachgate %s is not registered", name)
		}
	}
}
