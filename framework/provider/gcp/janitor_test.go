package gcp

import (
	"strings"
	"testing"
)

func TestRunMarks(t *testing.T) {
	for _, tc := range []struct {
		c    candidate
		want string
	}{
		{candidate{name: "rg-a-fw", description: Description("nightly-42")}, "nightly-42"},
		{candidate{name: "rg-a-addr", labels: map[string]string{RunLabel: "r7"}}, "r7"},
		{candidate{name: "rg-a-fw", description: "made by hand"}, ""},
		{candidate{name: "allow-internal", description: Description("nightly-42")}, ""},
		{candidate{name: "default", labels: map[string]string{RunLabel: "r7"}}, ""},
		{candidate{name: "rg-x"}, ""},
	} {
		if got := tc.c.run(NamePrefix); got != tc.want {
			t.Errorf("%s %q %v: run %q, want %q", tc.c.name, tc.c.description, tc.c.labels, got, tc.want)
		}
	}
}

func TestDeleteOrderPutsUsersFirst(t *testing.T) {
	before := func(a, b string) {
		t.Helper()
		ia, ib := -1, -1
		for i, k := range deleteOrder {
			if k == a {
				ia = i
			}
			if k == b {
				ib = i
			}
		}
		if ia < 0 || ib < 0 || ia >= ib {
			t.Errorf("%s must be deleted before %s: %s", a, b, strings.Join(deleteOrder, ", "))
		}
	}
	before("instance", "subnetwork")
	before("cluster", "subnetwork")
	before("vpnTunnel", "vpnGateway")
	before("vpnTunnel", "externalVpnGateway")
	before("vpnTunnel", "router")
	before("address", "subnetwork")
	before("firewall", "network")
	before("router", "network")
	before("subnetwork", "network")
	before("peering", "network")
}
