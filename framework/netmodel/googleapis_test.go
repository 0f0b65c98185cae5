package netmodel

import (
	"strings"
	"testing"

	"reachgate/framework/topology"
)

// A DNS-based control plane endpoint (GKE docs: "About control plane access", DNS-based
// endpoint) from another cloud, over Private Google Access for on-premises hosts (VPC docs:
// "Configure Private Google Access for on-premises hosts"). The rules the model holds it to:
//   - the name gke-….<region>.gke.goog must resolve, in the client's DNS, into
//     private.googleapis.com (199.36.153.8/30);
//   - that range is reached through a VPC's route to the default internet gateway, which every
//     VPC has and which is never exchanged over peering; the other cloud learns the range only
//     from a Cloud Router's CUSTOM advertisement;
//   - the front end answers into the VPC the request entered;
//   - with dnsEndpointConfig.allowExternalTraffic false the front end refuses user traffic;
//     who may call is IAM's decision per request, not the model's (no source-range rule).

func TestDNSEndpoint(t *testing.T) {
	t.Parallel()
	mapped := DNSEndpointState{Mapped: true, AllowExternalTraffic: true}
	vip := func(vpc, router string, keep ...string) func(*topology.Topology) {
		return advertise(vpc, router, append(keep, PrivateGoogleAPIs.String())...)
	}
	tests := []struct {
		name   string
		file   string
		edit   func(*topology.Topology)
		from   string
		st     DNSEndpointState
		want   bool
		reason string
	}{
		{"no DNS mapping", pscFile, vip("hub", "hub-router", "10.128.0.0/20"), "172.31.23.209", DNSEndpointState{AllowExternalTraffic: true}, false,
			"the resolver of vpc third-party has no record for it"},
		{"range not advertised", pscFile, nil, "172.31.23.209", mapped, false,
			"add 199.36.153.8/30 to the ranges of hub-router's CUSTOM advertisement"},
		{"external traffic refused", pscFile, vip("hub", "hub-router", "10.128.0.0/20"), "172.31.23.209", DNSEndpointState{Mapped: true}, false,
			"dnsEndpointConfig.allowExternalTraffic is false"},
		// No region or global access rule: the front end is global, the interconnect in
		// us-east4 and the cluster in us-central1 do not matter.
		{"all in place", pscFile, vip("hub", "hub-router", "10.128.0.0/20"), "172.31.23.209", mapped, true, ""},
		{"in-VPC client in another region", pscFile, nil, "10.156.0.8", mapped, true, ""},
		{"second address plan, not advertised", altPSCFile, nil, "192.168.101.17", mapped, false,
			"add 199.36.153.8/30 to the ranges of transit-router's CUSTOM advertisement"},
		{"second address plan, all in place", altPSCFile, vip("transit", "transit-router", "10.60.0.0/20"), "192.168.101.17", mapped, true, ""},
		{"no DNS endpoint", pscFile, func(tp *topology.Topology) { tp.Cluster.DNS = nil }, "172.31.23.209", mapped, false,
			"the cluster has no DNS-based endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompute(t, psaTopology(t, tt.file, tt.edit))
			v := m.ExplainDNSEndpoint(ip(tt.from), tt.st)
			if v.Reachable != tt.want {
				t.Fatalf("%s -> DNS endpoint reachable = %v; want %v (%s)", tt.from, v.Reachable, tt.want, v.Reason)
			}
			if !tt.want && !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("reason %q\nlacks %q", v.Reason, tt.reason)
			}
		})
	}
}

// The route to private.googleapis.com is each VPC's own: never exported over peering, even
// with exportCustomRoutes; and absent from every VPC when the cluster has no DNS endpoint.
func TestGoogleAPIsRouteNotPeered(t *testing.T) {
	t.Parallel()
	m := mustCompute(t, psaTopology(t, pscFile, nil))
	for _, vpc := range []string{"hub", "gke"} {
		var found int
		for _, r := range m.Routes(vpc) {
			if r.Prefix != PrivateGoogleAPIs {
				continue
			}
			if r.Gateway != DefaultInternetGateway || r.Type.Peering() {
				t.Errorf("vpc %s has %+v for %s; want only its own route to the default internet gateway", vpc, r, PrivateGoogleAPIs)
			}
			found++
		}
		if found != 1 {
			t.Errorf("vpc %s has %d routes for %s; want 1", vpc, found, PrivateGoogleAPIs)
		}
	}
	if _, ok := m.Lookup("third-party", PrivateGoogleAPIs.Addr(), "us-east-1"); ok {
		t.Error("third-party has a route to private.googleapis.com without any advertisement")
	}
	tp := psaTopology(t, pscFile, nil)
	tp.Cluster.DNS = nil
	for _, r := range mustCompute(t, tp).Routes("hub") {
		if r.Prefix == PrivateGoogleAPIs {
			t.Errorf("hub has %+v without a DNS endpoint", r)
		}
	}
}
