package netmodel

import (
	"strings"
	"testing"

	"reachgate/framework/topology"
)

func TestSubnetRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tp   *topology.Topology
		vpc  string
		want []Route
	}{
		{
			// GCP: every subnet's primary range becomes a SUBNET route of its VPC.
			name: "primary range",
			tp:   topo([]*topology.Network{gcpNet("a", topology.RoutingRegional, sub("s1", "us-central1", "10.1.0.0/16"))}, nil),
			vpc:  "a",
			want: want("a", r{p: "10.1.0.0/16", typ: Subnet, origin: "a"}),
		},
		{
			// GCP: secondary ranges get subnet routes too, and subnet routes apply in every
			// region even with REGIONAL dynamic routing (Region "").
			name: "secondary ranges and two regions",
			tp: topo([]*topology.Network{gcpNet("gke", topology.RoutingRegional,
				sub("default", "us-central1", "10.128.0.0/20", "pods=10.36.0.0/14", "svc=10.40.0.0/20"),
				sub("jump", "europe-west3", "10.156.0.0/20"))}, nil),
			vpc: "gke",
			want: want("gke",
				r{p: "10.36.0.0/14", typ: Subnet, origin: "gke"},
				r{p: "10.40.0.0/20", typ: Subnet, origin: "gke"},
				r{p: "10.128.0.0/20", typ: Subnet, origin: "gke"},
				r{p: "10.156.0.0/20", typ: Subnet, origin: "gke"}),
		},
		{
			// A third-party VPC's subnets are local routes as well.
			name: "third-party vpc",
			tp:   topo([]*topology.Network{awsNet("tp", sub("tp-subnet", "us-east-1", "172.31.0.0/16"))}, nil),
			vpc:  "tp",
			want: want("tp", r{p: "172.31.0.0/16", typ: Subnet, origin: "tp"}),
		},
		{
			// An unknown VPC has no routes.
			name: "unknown vpc",
			tp:   topo([]*topology.Network{awsNet("tp", sub("tp-subnet", "us-east-1", "172.31.0.0/16"))}, nil),
			vpc:  "nope",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			diffRoutes(t, mustCompute(t, tc.tp).Routes(tc.vpc), tc.want)
		})
	}
}

func TestComputeErrors(t *testing.T) {
	t.Parallel()
	a := func() *topology.Network {
		return gcpNet("a", topology.RoutingGlobal, sub("s", "us-central1", "10.1.0.0/16"))
	}
	b := func() *topology.Network {
		return withRouter(gcpNet("b", topology.RoutingGlobal, sub("s", "us-central1", "10.2.0.0/16")), "rb", "us-central1", "")
	}
	badGroup := func() *topology.Topology {
		c := withRouter(gcpNet("c", topology.RoutingGlobal), "rc", "us-central1", topology.AdvertiseCustom)
		c.Routers[0].Advertise.Groups = []string{"ALL_PEER_SUBNETS"}
		return topo([]*topology.Network{b(), c}, []*topology.Connection{bgp("ic", topology.LinkVPN, "c", "rc", "b", "rb")})
	}
	tests := []struct {
		name string
		tp   *topology.Topology
		want string
	}{
		{"link to unknown vpc", topo([]*topology.Network{a()}, []*topology.Connection{peer("p", "a", flags{}, "zz", flags{})}), `unknown vpc "zz"`},
		{"unknown router", topo([]*topology.Network{a(), b()},
			[]*topology.Connection{bgp("ic", topology.LinkInterconnect, "a", "nope", "b", "rb")}), `vpc "a" has no router "nope"`},
		{"unknown link type", topo([]*topology.Network{a(), b()},
			[]*topology.Connection{{Name: "x", Type: "tunnel", A: topology.Endpoint{VPC: "a"}, B: topology.Endpoint{VPC: "b"}}}), `link type "tunnel" is not supported`},
		// GCP: VPC Network Peering joins VPC networks only.
		{"peering with another cloud", topo([]*topology.Network{a(), awsNet("tp", sub("s", "us-east-1", "172.31.0.0/16"))},
			[]*topology.Connection{peer("p", "a", flags{}, "tp", flags{})}), "peering needs gcp vpcs"},
		// GCP: dynamic routing over an interconnect needs a Cloud Router on the GCP side.
		{"gcp side without router", topo([]*topology.Network{a(), b()},
			[]*topology.Connection{bgp("ic", topology.LinkInterconnect, "a", "", "b", "rb")}), "names no cloud router"},
		// GCP: the only advertisement group is ALL_SUBNETS.
		{"bad advertisement group", badGroup(), `advertisement group "ALL_PEER_SUBNETS" is not supported; supported: ALL_SUBNETS`},
		{"duplicate vpc", topo([]*topology.Network{a(), a()}, nil), `vpc "a" is declared twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compute(tc.tp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compute error = %v; want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestNotes(t *testing.T) {
	t.Parallel()
	m := mustCompute(t, seedLike())
	tests := []struct {
		vpc, prefix string
		typ         RouteType
		want        string
	}{
		{"hub", "172.31.0.0/16", Dynamic, "learned from tp-router over interconnect tp-interconnect"},
		{"gke", "172.31.0.0/16", PeeringDynamic, "dynamic route of hub (learned from tp-router over interconnect tp-interconnect), imported over peering hub-to-gke"},
		{"gke", "10.128.0.0/20", Subnet, "subnet default (us-central1)"},
		{"gke", "10.36.0.0/14", Subnet, "secondary range gke-pods of subnet default (us-central1)"},
		{"gke", "192.168.32.32/28", PeeringSubnet, "subnet master (us-central1) of gke-master, exchanged over peering gke-3b1a4c5d-peer"},
	}
	for _, tc := range tests {
		found := false
		for _, rt := range m.Routes(tc.vpc) {
			if rt.Prefix == pfx(tc.prefix) && rt.Type == tc.typ {
				found = true
				if rt.Note != tc.want {
					t.Errorf("%s %s %s note = %q; want %q", tc.vpc, tc.typ, tc.prefix, rt.Note, tc.want)
				}
			}
		}
		if !found {
			t.Errorf("%s has no %s route %s", tc.vpc, tc.typ, tc.prefix)
		}
	}
}
