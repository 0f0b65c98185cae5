package netmodel

import (
	"net/netip"
	"testing"

	"reachgate/framework/topology"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	seed := mustCompute(t, seedLike())
	// regionalHub: hub REGIONAL with its router in us-central1, so 172.31.0.0/16 applies there only.
	regionalHub := mustCompute(t, hubAndTP(topology.RoutingRegional, ""))
	// overlap: b has 10.0.0.0/8 as a dynamic route and 10.1.0.0/16 as a peering subnet route.
	overlap := func() *Model {
		tp := exporterWithDynamic(topology.RoutingGlobal, flags{}, flags{})
		tp.Network("tp").Routers[0].Advertise = topology.Advertisement{Mode: topology.AdvertiseCustom,
			Ranges: []netip.Prefix{pfx("10.0.0.0/8")}}
		return mustCompute(t, tp)
	}()
	tests := []struct {
		name     string
		m        *Model
		vpc, dst string
		region   string
		wantOK   bool
		wantPfx  string
		wantType RouteType
	}{
		// GCP routing order: the most specific destination wins.
		{"longest prefix wins over a shorter dynamic route", overlap, "a", "10.2.3.4", "us-central1", true, "10.2.0.0/16", PeeringSubnet},
		{"shorter dynamic route when nothing longer matches", overlap, "a", "10.9.9.9", "us-central1", true, "10.0.0.0/8", Dynamic},
		{"local subnet", overlap, "a", "10.1.0.9", "europe-west3", true, "10.1.0.0/16", Subnet},
		// GCP: a subnet route applies in every region (secondary ranges too).
		{"secondary range in any region", seed, "gke", "10.36.1.2", "asia-east1", true, "10.36.0.0/14", Subnet},
		{"peering subnet route", seed, "hub", "10.128.0.3", "us-central1", true, "10.128.0.0/20", PeeringSubnet},
		{"dynamic route of a GLOBAL vpc in another region", seed, "hub", "172.31.1.1", "europe-west3", true, "172.31.0.0/16", Dynamic},
		// GCP: REGIONAL dynamic routing: the learned route applies only in the router's region.
		{"regional route in its region", regionalHub, "hub", "172.31.1.1", "us-central1", true, "172.31.0.0/16", Dynamic},
		{"regional route in another region", regionalHub, "hub", "172.31.1.1", "europe-west3", false, "", ""},
		{"regional route with unknown region", regionalHub, "hub", "172.31.1.1", "", false, "", ""},
		// GCP: peering is not transitive, so the hub has nothing for the GKE master range.
		{"no route", seed, "hub", "192.168.32.34", "us-central1", false, "", ""},
		{"unknown vpc", seed, "nope", "10.0.0.1", "", false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tc.m.Lookup(tc.vpc, ip(tc.dst), tc.region)
			if ok != tc.wantOK {
				t.Fatalf("Lookup(%s, %s, %q) ok = %v; want %v (route %+v)", tc.vpc, tc.dst, tc.region, ok, tc.wantOK, got)
			}
			if ok && (got.Prefix != pfx(tc.wantPfx) || got.Type != tc.wantType) {
				t.Errorf("Lookup(%s, %s, %q) = %s %s; want %s %s", tc.vpc, tc.dst, tc.region, got.Type, got.Prefix, tc.wantType, tc.wantPfx)
			}
		})
	}
}

func TestLookupIgnoresNotImported(t *testing.T) {
	t.Parallel()
	// GCP: an import that lost to a local subnet route (imported=false) is never used.
	tp := exporterWithDynamic(topology.RoutingGlobal, flags{export: true}, flags{imp: true})
	tp.Network("b").Subnets = append(tp.Network("b").Subnets, sub("wide", "us-central1", "172.16.0.0/12"))
	m := mustCompute(t, tp)
	got, ok := m.Lookup("b", ip("172.31.0.5"), "us-central1")
	if !ok || got.Type != Subnet || got.Prefix != pfx("172.16.0.0/12") {
		t.Errorf("Lookup = %v %s %s; want SUBNET 172.16.0.0/12", ok, got.Type, got.Prefix)
	}
}
