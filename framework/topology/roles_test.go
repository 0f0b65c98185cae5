package topology

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestRequireRoles(t *testing.T) {
	t.Parallel()
	seed, err := ParseFile(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.RequireRoles("suite ilb-proxy", RoleThirdPartyClient, RoleInVPCClient, RoleNode, RoleControlPlane); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if got := seed.HostsWithRole(RoleThirdPartyClient); len(got) != 1 || got[0].Name != "tp-vm" {
		t.Errorf("third-party clients of the seed: got %v; want [tp-vm]", got)
	}

	// The same file without the in-VPC client's role: the error points at spec.hosts.
	data := strings.Replace(readFile(t, seedPath), "role: in-vpc-client", "role: vm", 1)
	topo, err := Parse("no-jumpbox.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	err = topo.RequireRoles("suite ilb-proxy", RoleThirdPartyClient, RoleInVPCClient)
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("got %T %v; want *Error", err, err)
	}
	want := "no-jumpbox.yaml:" + strconv.Itoa(lineOf(data, "  hosts:")) + ": spec.hosts: no host has role in-vpc-client, which suite ilb-proxy needs (set role: in-vpc-client on a host in a customer GCP VPC)"
	if e.Error() != want {
		t.Errorf("got %q;\nwant %q", e.Error(), want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// lineOf is the 1-based line that starts with prefix, or 0.
func lineOf(s, prefix string) int {
	for i, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	return 0
}

func TestUplink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, vpc, want string }{
		{seedPath, "third-party", "tp-interconnect"},
		{"../../fixtures/topologies/bgp-export.yaml", "third-party", "tp-ha-vpn"},
		{seedPath, "gke", ""},
	} {
		topo, err := ParseFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if l := topo.Uplink(tc.vpc); l != nil {
			got = l.Name
		}
		if got != tc.want {
			t.Errorf("%s: Uplink(%s) = %q; want %q", tc.file, tc.vpc, got, tc.want)
		}
	}
}
