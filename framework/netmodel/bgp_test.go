package netmodel

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"reachgate/framework/topology"
)

// hubAndTP is a gcp hub (two regions, router in us-central1) joined by an interconnect to a
// third-party VPC; mode is the hub's routing mode, adv the hub router's advertisement.
func hubAndTP(mode, advMode string, adv ...string) *topology.Topology {
	hub := withRouter(gcpNet("hub", mode,
		sub("central", "us-central1", "10.10.0.0/20", "pods=10.20.0.0/16"),
		sub("europe", "europe-west3", "10.30.0.0/20")),
		"hub-router", "us-central1", advMode, adv...)
	tp := withRouter(awsNet("tp", sub("tp-subnet", "us-east-1", "172.31.0.0/16")), "tp-router", "us-east-1", "")
	return topo([]*topology.Network{tp, hub},
		[]*topology.Connection{bgp("ic", topology.LinkInterconnect, "tp", "tp-router", "hub", "hub-router")})
}

func TestDynamicRoutes(t *testing.T) {
	t.Parallel()
	// learned is a DYNAMIC route in vpc over link ic.
	learned := func(p, hop, region, origin string) r {
		return r{p: p, typ: Dynamic, link: "ic", hop: hop, region: region, prio: DefaultDynamicPriority, origin: origin}
	}
	local := func(p, vpc string) r { return r{p: p, typ: Subnet, origin: vpc} }
	tests := []struct {
		name string
		tp   *topology.Topology
		vpc  string
		want []Route
	}{
		{
			// GCP: DEFAULT advertises the VPC's own subnets (primary and secondary); REGIONAL
			// routing limits it to the router's region. The third party installs them globally.
			name: "DEFAULT advertisement, REGIONAL hub",
			tp:   hubAndTP(topology.RoutingRegional, topology.AdvertiseDefault),
			vpc:  "tp",
			want: want("tp",
				learned("10.10.0.0/20", "hub", "", "hub/hub-router"),
				learned("10.20.0.0/16", "hub", "", "hub/hub-router"),
				local("172.31.0.0/16", "tp")),
		},
		{
			// GCP: with GLOBAL routing the router announces the subnets of every region.
			name: "DEFAULT advertisement, GLOBAL hub",
			tp:   hubAndTP(topology.RoutingGlobal, ""),
			vpc:  "tp",
			want: want("tp",
				learned("10.10.0.0/20", "hub", "", "hub/hub-router"),
				learned("10.20.0.0/16", "hub", "", "hub/hub-router"),
				learned("10.30.0.0/20", "hub", "", "hub/hub-router"),
				local("172.31.0.0/16", "tp")),
		},
		{
			// GCP: CUSTOM = group ALL_SUBNETS (what DEFAULT would send) + the listed ranges,
			// e.g. a peered range that DEFAULT never announces.
			name: "CUSTOM with ALL_SUBNETS and a range",
			tp:   hubAndTP(topology.RoutingRegional, topology.AdvertiseCustom, topology.GroupAllSubnets, "10.128.0.0/20"),
			vpc:  "tp",
			want: want("tp",
				learned("10.10.0.0/20", "hub", "", "hub/hub-router"),
				learned("10.20.0.0/16", "hub", "", "hub/hub-router"),
				learned("10.128.0.0/20", "hub", "", "hub/hub-router"),
				local("172.31.0.0/16", "tp")),
		},
		{
			// GCP: a CUSTOM advertisement without ALL_SUBNETS announces only its ranges.
			name: "CUSTOM without ALL_SUBNETS",
			tp:   hubAndTP(topology.RoutingGlobal, topology.AdvertiseCustom, "10.128.0.0/20"),
			vpc:  "tp",
			want: want("tp",
				learned("10.128.0.0/20", "hub", "", "hub/hub-router"),
				local("172.31.0.0/16", "tp")),
		},
		{
			// GCP: a REGIONAL VPC applies a learned route only in the learning router's region.
			name: "REGIONAL receiver",
			tp:   hubAndTP(topology.RoutingRegional, ""),
			vpc:  "hub",
			want: want("hub",
				local("10.10.0.0/20", "hub"), local("10.20.0.0/16", "hub"), local("10.30.0.0/20", "hub"),
				learned("172.31.0.0/16", "tp", "us-central1", "tp/tp-router")),
		},
		{
			// GCP: a GLOBAL VPC applies learned routes in all regions.
			name: "GLOBAL receiver",
			tp:   hubAndTP(topology.RoutingGlobal, ""),
			vpc:  "hub",
			want: want("hub",
				local("10.10.0.0/20", "hub"), local("10.20.0.0/16", "hub"), local("10.30.0.0/20", "hub"),
				learned("172.31.0.0/16", "tp", "", "tp/tp-router")),
		},
		{
			// GCP: dynamic routes take only destinations that do not conflict with a subnet
			// route — a prefix equal to, or inside, a local subnet range is ignored.
			name: "learned prefix conflicting with own subnet",
			tp: func() *topology.Topology {
				tp := hubAndTP(topology.RoutingGlobal, "")
				tp.Networks[0].Routers[0].Advertise = topology.Advertisement{Mode: topology.AdvertiseCustom,
					Groups: []string{topology.GroupAllSubnets}, Ranges: []netip.Prefix{pfx("10.10.0.0/20"), pfx("10.10.1.0/24"), pfx("10.99.0.0/16")}}
				return tp
			}(),
			vpc: "hub",
			want: want("hub",
				local("10.10.0.0/20", "hub"), local("10.20.0.0/16", "hub"), local("10.30.0.0/20", "hub"),
				learned("10.99.0.0/16", "tp", "", "tp/tp-router"),
				learned("172.31.0.0/16", "tp", "", "tp/tp-router")),
		},
		{
			// HA VPN sessions follow the same Cloud Router rules as an interconnect.
			name: "vpn link",
			tp: func() *topology.Topology {
				tp := hubAndTP(topology.RoutingGlobal, "")
				tp.Links[0].Type = topology.LinkVPN
				return tp
			}(),
			vpc: "hub",
			want: want("hub",
				local("10.10.0.0/20", "hub"), local("10.20.0.0/16", "hub"), local("10.30.0.0/20", "hub"),
				learned("172.31.0.0/16", "tp", "", "tp/tp-router")),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			diffRoutes(t, mustCompute(t, tc.tp).Routes(tc.vpc), tc.want)
		})
	}
}

func TestAdvertised(t *testing.T) {
	t.Parallel()
	m := mustCompute(t, seedLike())
	tests := []struct {
		name, link, vpc string
		want            []netip.Prefix
	}{
		// GCP: CUSTOM with ALL_SUBNETS + 10.128.0.0/20 (the peered GKE subnet).
		{"hub router", "tp-interconnect", "hub", []netip.Prefix{pfx("10.10.0.0/20"), pfx("10.128.0.0/20")}},
		// A third-party router announces its subnets.
		{"third-party router", "tp-interconnect", "third-party", []netip.Prefix{pfx("172.31.0.0/16")}},
		// Peerings carry routes, not BGP announcements.
		{"peering", "hub-to-gke", "hub", nil},
		{"unknown link", "nope", "hub", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := cmp.Diff(tc.want, m.Advertised(tc.link, tc.vpc), netipEqual); d != "" {
				t.Errorf("Advertised(%s, %s) mismatch (-want +got):\n%s", tc.link, tc.vpc, d)
			}
		})
	}
}
