package pscendpoint

import (
	"net/netip"
	"testing"

	"reachgate/framework/topology"
)

// A Cloud Router announces, by DEFAULT or the ALL_SUBNETS group, only its own VPC's subnets;
// a peered VPC's subnet (the endpoint's, seen from a hub) only through a CUSTOM range.
func TestAnnounces(t *testing.T) {
	ep := netip.MustParsePrefix("10.61.0.0/28")
	custom := func(groups []string, ranges ...string) topology.Advertisement {
		a := topology.Advertisement{Mode: topology.AdvertiseCustom, Groups: groups}
		for _, r := range ranges {
			a.Ranges = append(a.Ranges, netip.MustParsePrefix(r))
		}
		return a
	}
	all := []string{topology.GroupAllSubnets}
	for _, tt := range []struct {
		name          string
		a             topology.Advertisement
		network, vpcs string
		want          bool
	}{
		{"default, own VPC", topology.Advertisement{Mode: "DEFAULT"}, "prod", "prod", true},
		{"default, peered VPC", topology.Advertisement{Mode: "DEFAULT"}, "transit", "prod", false},
		{"all subnets, own VPC", custom(all), "prod", "prod", true},
		{"all subnets, peered VPC", custom(all, "10.60.0.0/20"), "transit", "prod", false},
		{"custom range covering it", custom(all, "10.60.0.0/20", "10.61.0.0/16"), "transit", "prod", true},
		{"custom range equal", custom(nil, "10.61.0.0/28"), "transit", "prod", true},
		{"custom range inside it only", custom(nil, "10.61.0.0/29"), "transit", "prod", false},
	} {
		if got := Announces(tt.a, tt.network, tt.vpcs, ep); got != tt.want {
			t.Errorf("%s: Announces = %v; want %v", tt.name, got, tt.want)
		}
	}
}
