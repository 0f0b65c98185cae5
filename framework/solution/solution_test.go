package solution

import (
	"net/netip"
	"slices"
	"testing"

	"reachgate/framework/topology"
)

func TestWithRange(t *testing.T) {
	vip := netip.MustParsePrefix("199.36.153.8/30")
	// DEFAULT becomes CUSTOM with ALL_SUBNETS, so the subnets stay announced.
	got := WithRange(topology.Advertisement{Mode: topology.AdvertiseDefault}, vip)
	if got.Mode != topology.AdvertiseCustom || !slices.Equal(got.Groups, []string{topology.GroupAllSubnets}) || !slices.Equal(got.Ranges, []netip.Prefix{vip}) {
		t.Errorf("from DEFAULT: %+v", got)
	}
	// CUSTOM keeps its groups and ranges, and the input is not modified.
	in := topology.Advertisement{Mode: topology.AdvertiseCustom, Ranges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	got = WithRange(in, vip)
	if len(got.Groups) != 0 || len(got.Ranges) != 2 || got.Ranges[1] != vip || len(in.Ranges) != 1 {
		t.Errorf("from CUSTOM: %+v (input now %+v)", got, in)
	}
}
