package dnsendpoint

import (
	"net/netip"
	"slices"
	"testing"

	"reachgate/framework/cloud"
	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
)

func TestZoneMapsEveryGKEName(t *testing.T) {
	z := zone()
	if z.Name != Zone || len(z.Records) != 1 || z.Records[0].Name != "*.gke.goog." {
		t.Fatalf("zone %+v; want one wildcard record in %s", z, Zone)
	}
	if got := z.Records[0].A; len(got) != 4 || !slices.IsSortedFunc(got, netip.Addr.Compare) || got[0] != netmodel.PrivateGoogleAPIs.Addr() {
		t.Errorf("addresses %v; want the four of %s", got, netmodel.PrivateGoogleAPIs)
	}
	name := "gke-0123.us-central1.gke.goog"
	if !Maps(z, name) {
		t.Errorf("Maps(zone(), %s) = false", name)
	}
}

func TestMaps(t *testing.T) {
	name := "gke-0123.us-central1.gke.goog"
	vip, other := netip.MustParseAddr("199.36.153.9"), netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct {
		what string
		z    cloud.PrivateZone
		want bool
	}{
		{"empty zone", cloud.PrivateZone{Name: Zone}, false},
		{"exact record into the range", cloud.PrivateZone{Name: Zone, Records: []cloud.DNSRecord{{Name: name + ".", A: []netip.Addr{vip}}}}, true},
		{"exact record elsewhere", cloud.PrivateZone{Name: Zone, Records: []cloud.DNSRecord{{Name: name, A: []netip.Addr{other}}}}, false},
		{"wildcard with one address elsewhere", cloud.PrivateZone{Name: Zone, Records: []cloud.DNSRecord{{Name: "*." + Zone, A: []netip.Addr{vip, other}}}}, false},
		{"record of another name", cloud.PrivateZone{Name: Zone, Records: []cloud.DNSRecord{{Name: "gke-9.us-east1.gke.goog.", A: []netip.Addr{vip}}}}, false},
	} {
		if got := Maps(tc.z, name); got != tc.want {
			t.Errorf("%s: Maps = %v; want %v", tc.what, got, tc.want)
		}
	}
}

func TestFootprintCountsEveryChange(t *testing.T) {
	off := false
	r := &Result{Plan: Plan{Router: "hub-router", ClientVPC: "third-party", Principal: "system:serviceaccount:default:x",
		Changes: Changes{Advertisement: &topology.Advertisement{}, ExternalTraffic: &off, Granted: true, Zone: true}}}
	if n, fp := r.Plan.Changes.Count(), r.CloudFootprint(); n != 4 || len(fp) != 4 {
		t.Errorf("Count %d, footprint %v; want 4 each", n, fp)
	}
	if (&Result{}).CloudFootprint() != nil || (Changes{}).Count() != 0 {
		t.Error("nothing changed, yet a footprint")
	}
}
