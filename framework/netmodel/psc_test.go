package netmodel

import (
	"strings"
	"testing"

	"reachgate/framework/topology"
)

// A Private Service Connect cluster (GKE 1.29 and later, "About Private Service Connect" in the
// GKE docs): the control plane's internal endpoint is an address of a subnet of the cluster's
// own VPC, a regional forwarding rule that leads to the control plane in Google's producer
// VPC. The rules the model holds it to:
//   - the endpoint is a subnet address, so it is routed wherever the subnet route goes: subnet
//     routes cross VPC peering always, and a Cloud Router announces it by DEFAULT (its own
//     VPC's subnets) or by a CUSTOM range ("Cloud Router advertisement modes");
//   - like an internal passthrough load balancer's forwarding rule, it takes only clients that
//     enter the VPC in its region — a VPN tunnel's or VLAN attachment's region for traffic
//     from another cloud — unless the cluster's control plane global access is on (GKE:
//     "control plane global access" of the internal endpoint);
//   - the consumer VPC's ingress firewall rules do not apply (no instance of the VPC receives
//     the packet; VPC docs: firewall rules for Private Service Connect endpoints);
//   - master authorized networks apply as to any private endpoint.

const (
	pscFile    = "../../fixtures/topologies/psc.yaml"
	altPSCFile = "../../fixtures/topologies/alt-psc.yaml"
)

func TestPSCEndpoint(t *testing.T) {
	t.Parallel()
	api := Flow{Proto: "tcp", Port: 443}
	global := func(tp *topology.Topology) { tp.Cluster.GlobalAccess = true }
	authorize := func(blocks ...string) func(*topology.Topology) {
		return func(tp *topology.Topology) {
			a := &topology.Authorized{PrivateEndpointEnforcement: true}
			for _, b := range blocks {
				a.CIDRBlocks = append(a.CIDRBlocks, pfx(b))
			}
			tp.Cluster.Authorized = a
		}
	}
	hubRegion := func(region string) func(*topology.Topology) {
		return func(tp *topology.Topology) { tp.Network("hub").Router("hub-router").Region = region }
	}
	tests := []struct {
		name     string
		file     string
		edit     func(*topology.Topology)
		from, to string
		want     bool
		reason   string // a substring of the explanation when unreachable
	}{
		// The baseline of psc.yaml: routes reach the node subnet, the region does not match.
		{"third party enters in another region", pscFile, nil, "172.31.23.209", "10.128.0.2", false,
			"enters vpc gke in us-east4, and cluster private-cluster's Private Service Connect endpoint 10.128.0.2 is regional (us-central1) while control plane global access is off"},
		{"global access opens it", pscFile, global, "172.31.23.209", "10.128.0.2", true, ""},
		// The attachment in the endpoint's region needs no global access; and no firewall rule
		// of gke allows 172.31.0.0/16 on 443, which does not matter for an endpoint.
		{"attachment in the endpoint's region", pscFile, hubRegion("us-central1"), "172.31.23.209", "10.128.0.2", true, ""},
		{"a node is in the region", pscFile, nil, "10.128.0.3", "10.128.0.2", true, ""},
		{"in-VPC client in another region", pscFile, nil, "10.156.0.8", "10.128.0.2", false, "enters vpc gke in europe-west3"},
		{"authorized networks without the third party", pscFile, edits(global, authorize("10.156.0.0/20")), "172.31.23.209", "10.128.0.2", false,
			"172.31.23.209 is not in the master authorized networks of cluster private-cluster"},
		{"authorized networks with the third party", pscFile, edits(global, authorize("172.31.0.0/16")), "172.31.23.209", "10.128.0.2", true, ""},
		{"nodes always authorized", pscFile, authorize("172.31.0.0/16"), "10.128.0.4", "10.128.0.2", true, ""},
		// alt-psc.yaml: the endpoint has its own subnet, which the transit router does not announce.
		{"endpoint subnet not announced", altPSCFile, global, "192.168.101.17", "10.61.0.2", false,
			"add 10.61.0.0/28 to the ranges of transit-router's CUSTOM advertisement"},
		{"endpoint subnet announced, region differs", altPSCFile, advertise("transit", "transit-router", "10.60.0.0/20", "10.61.0.0/28"),
			"192.168.101.17", "10.61.0.2", false, "enters vpc prod in europe-west4"},
		{"endpoint subnet announced, global access", altPSCFile, edits(global, advertise("transit", "transit-router", "10.60.0.0/20", "10.61.0.0/28")),
			"192.168.101.17", "10.61.0.2", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompute(t, psaTopology(t, tt.file, tt.edit))
			tr := m.TraceFlow(ip(tt.from), ip(tt.to), api)
			if tr.Reachable != tt.want {
				t.Fatalf("%s -> %s:443 reachable = %v; want %v (%s)", tt.from, tt.to, tr.Reachable, tt.want, tr.Reason)
			}
			if !tt.want && !strings.Contains(tr.Reason, tt.reason) {
				t.Errorf("reason %q\nlacks %q", tr.Reason, tt.reason)
			}
			if tt.want && (tr.Admission == nil || tr.Admission.Rule == "implied-deny-ingress") {
				t.Errorf("admission %+v; want the endpoint's, not a firewall rule's", tr.Admission)
			}
		})
	}
}

func TestPSCSources(t *testing.T) {
	t.Parallel()
	m := mustCompute(t, psaTopology(t, pscFile, nil))
	got, limited := m.PSCSources()
	if !limited {
		t.Fatal("PSCSources: not limited; want the endpoint region's sources (global access is off)")
	}
	// us-central1 ranges of gke: the node subnet and its secondary ranges; not the jumpbox
	// subnet (europe-west3) nor the third party (enters in us-east4).
	for _, p := range got {
		if p.Overlaps(pfx("10.156.0.0/20")) || p.Overlaps(pfx("172.31.0.0/16")) {
			t.Errorf("PSCSources has %s; want only ranges entering in us-central1 (%v)", p, got)
		}
	}
	if len(got) == 0 || !got[0].Overlaps(pfx("10.0.0.0/8")) {
		t.Errorf("PSCSources = %v; want the node subnet's ranges", got)
	}
	tp := psaTopology(t, pscFile, nil)
	tp.Cluster.GlobalAccess = true
	if _, limited := mustCompute(t, tp).PSCSources(); limited {
		t.Error("PSCSources limited with global access on")
	}
}
