package netmodel

import (
	"strings"
	"testing"

	"reachgate/framework/topology"
)

func TestILBAdmits(t *testing.T) {
	t.Parallel()
	hubIn := func(region string) *topology.Topology {
		tp := seedLike()
		tp.Network("hub").Router("hub-router").Region = region
		return tp
	}
	tests := []struct {
		name         string
		tp           *topology.Topology
		src          string
		region       string
		globalAccess bool
		admitted     bool
		reason       string
	}{
		// GCP: an internal passthrough LB admits clients in its own region.
		{name: "client in the LB's region", tp: seedLike(), src: "10.128.0.3", region: "us-central1", admitted: true},
		// GCP: clients in another region need global access.
		{name: "client in another region", tp: seedLike(), src: "10.156.0.8", region: "us-central1",
			reason: "enters vpc gke in europe-west3"},
		// GCP: global access admits clients of every region.
		{name: "global access", tp: seedLike(), src: "10.156.0.8", region: "us-central1", globalAccess: true, admitted: true},
		// GCP: a client arriving over a VLAN attachment is in the attachment's region, and a
		// peering keeps the region the packet had.
		{name: "over interconnect and peering, same region", tp: seedLike(), src: "172.31.23.209", region: "us-central1", admitted: true},
		// GCP: the same client through an attachment in another region is refused without
		// global access (the article's cross-region defect).
		{name: "over interconnect in another region", tp: hubIn("europe-west3"), src: "172.31.23.209", region: "us-central1",
			reason: "allow-global-access"},
		{name: "over interconnect in another region, global access", tp: hubIn("europe-west3"), src: "172.31.23.209",
			region: "us-central1", globalAccess: true, admitted: true},
		// A client whose traffic never reaches the LB's VPC is not admitted.
		{name: "client with no route", tp: func() *topology.Topology {
			tp := seedLike()
			tp.Network("hub").Router("hub-router").Advertise.Ranges = nil
			return tp
		}(), src: "172.31.23.209", region: "us-central1", globalAccess: true, reason: "does not reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompute(t, tt.tp)
			ok, why := m.ILBAdmits("gke", tt.region, tt.globalAccess, ip(tt.src))
			if ok != tt.admitted {
				t.Fatalf("ILBAdmits(%s) = %v (%s); want %v", tt.src, ok, why, tt.admitted)
			}
			if !ok && !strings.Contains(why, tt.reason) {
				t.Errorf("reason %q does not contain %q", why, tt.reason)
			}
		})
	}
}

func TestEntriesAndRegionTables(t *testing.T) {
	t.Parallel()
	m := mustCompute(t, seedLike())
	got := map[string]Entry{}
	for _, e := range m.Entries("gke") {
		got[e.Source.String()] = e
	}
	// GCP: the third party enters the hub over the interconnect in hub-router's region and
	// keeps that region across the peering into gke.
	if e := got["172.31.0.0/16"]; e.Link != "hub-to-gke" || e.Region != "us-central1" {
		t.Errorf("172.31.0.0/16 enters gke as %+v; want over hub-to-gke in us-central1", e)
	}
	if e := got["10.156.0.0/20"]; e.Link != "" || e.Region != "europe-west3" {
		t.Errorf("the jumpbox subnet enters gke as %+v; want local in europe-west3", e)
	}
	if _, ok := got["192.168.32.32/28"]; !ok {
		t.Errorf("the master range reaches gke over the GKE peering; entries: %v", got)
	}
	if ilb := m.ILBSources("gke", "us-central1", false); len(ilb) == 0 || strings.Contains(joinPrefixes(ilb), "10.156.0.0/20") {
		t.Errorf("ILBSources without global access = %s; want the us-central1 ranges only", joinPrefixes(ilb))
	}
	// GCP: a GLOBAL hub and DEFAULT-free seed have no regional routes: one table per VPC.
	if r := m.Regions("gke"); len(r) != 0 {
		t.Errorf("Regions(gke) = %v; want none", r)
	}
	tp := seedLike()
	tp.Network("hub").RoutingMode = topology.RoutingRegional
	if r := mustCompute(t, tp).Regions("hub"); len(r) != 1 || r[0] != "us-central1" {
		t.Errorf("REGIONAL hub: Regions = %v; want [us-central1]", r)
	}
}
