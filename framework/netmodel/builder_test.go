package netmodel

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"reachgate/framework/topology"
)

// Small builders for resolved topologies, so each test states only what matters to it.

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// sub builds a subnet; secondary ranges are given as "name=cidr".
func sub(name, region, cidr string, secondary ...string) *topology.Subnetwork {
	s := &topology.Subnetwork{Name: name, Region: region, CIDR: pfx(cidr)}
	for _, r := range secondary {
		n, c, _ := strings.Cut(r, "=")
		s.Secondary = append(s.Secondary, topology.NamedRange{Name: n, CIDR: pfx(c)})
	}
	return s
}

func gcpNet(name, mode string, subs ...*topology.Subnetwork) *topology.Network {
	return &topology.Network{Name: name, Cloud: topology.CloudGCP, RoutingMode: mode, Subnets: subs}
}

func awsNet(name string, subs ...*topology.Subnetwork) *topology.Network {
	return &topology.Network{Name: name, Cloud: "aws", Subnets: subs}
}

// withRouter adds a router; ranges after the mode are advertised ranges, "ALL_SUBNETS" a group.
func withRouter(n *topology.Network, name, region, mode string, adv ...string) *topology.Network {
	r := &topology.CloudRouter{Name: name, Region: region, ASN: topology.DefaultRouterASN}
	r.Advertise.Mode = mode
	for _, a := range adv {
		if a == topology.GroupAllSubnets {
			r.Advertise.Groups = append(r.Advertise.Groups, a)
			continue
		}
		r.Advertise.Ranges = append(r.Advertise.Ranges, pfx(a))
	}
	n.Routers = append(n.Routers, r)
	return n
}

func bgp(name, typ, aVPC, aRouter, bVPC, bRouter string) *topology.Connection {
	return &topology.Connection{Name: name, Type: typ,
		A: topology.Endpoint{VPC: aVPC, Router: aRouter}, B: topology.Endpoint{VPC: bVPC, Router: bRouter}}
}

// flags is a peering side's exportCustomRoutes/importCustomRoutes.
type flags struct{ export, imp bool }

func peer(name, a string, af flags, b string, bf flags) *topology.Connection {
	return &topology.Connection{Name: name, Type: topology.LinkPeering,
		A: topology.Endpoint{VPC: a, ExportCustomRoutes: af.export, ImportCustomRoutes: af.imp},
		B: topology.Endpoint{VPC: b, ExportCustomRoutes: bf.export, ImportCustomRoutes: bf.imp}}
}

func host(name, vpc, subnet, region, addr string) *topology.Machine {
	return &topology.Machine{Name: name, VPC: vpc, Subnet: subnet, Region: region, IP: ip(addr), Role: topology.RoleVM}
}

func topo(nets []*topology.Network, links []*topology.Connection, hosts ...*topology.Machine) *topology.Topology {
	return &topology.Topology{Name: "test", Networks: nets, Links: links, Hosts: hosts}
}

// seedLike mirrors fixtures/topologies/seed.yaml as the parser resolves it.
func seedLike() *topology.Topology {
	nets := []*topology.Network{
		withRouter(awsNet("third-party", sub("tp-subnet", "us-east-1", "172.31.0.0/16")), "tp-router", "us-east-1", ""),
		withRouter(gcpNet("hub", topology.RoutingGlobal, sub("hub-subnet", "us-central1", "10.10.0.0/20")),
			"hub-router", "us-central1", topology.AdvertiseCustom, topology.GroupAllSubnets, "10.128.0.0/20"),
		gcpNet("gke", topology.RoutingRegional,
			sub("default", "us-central1", "10.128.0.0/20", "gke-pods=10.36.0.0/14", "gke-services=10.40.0.0/20"),
			sub("jumpbox", "europe-west3", "10.156.0.0/20")),
		gcpNet("gke-master", topology.RoutingRegional, sub("master", "us-central1", "192.168.32.32/28")),
	}
	nets[3].ManagedBy = topology.ManagedByGKE
	links := []*topology.Connection{
		bgp("tp-interconnect", topology.LinkInterconnect, "third-party", "tp-router", "hub", "hub-router"),
		peer("hub-to-gke", "hub", flags{export: true}, "gke", flags{imp: true}),
		peer("gke-3b1a4c5d-peer", "gke", flags{}, "gke-master", flags{export: true, imp: true}),
	}
	return topo(nets, links,
		host("tp-vm", "third-party", "tp-subnet", "us-east-1", "172.31.23.209"),
		host("jumpbox", "gke", "jumpbox", "europe-west3", "10.156.0.8"),
		host("gke-node-gq92", "gke", "default", "us-central1", "10.128.0.3"),
		host("master", "gke-master", "master", "us-central1", "192.168.32.34"),
	)
}

func mustCompute(t *testing.T, tp *topology.Topology) *Model {
	t.Helper()
	m, err := Compute(tp)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return m
}

// r is a compact expected route; fields not given stay zero.
type r struct {
	p      string
	typ    RouteType
	link   string
	hop    string
	region string
	prio   int
	origin string
	imp    bool
}

// want expands compact routes of vpc into Routes.
func want(vpc string, rs ...r) []Route {
	out := make([]Route, len(rs))
	for i, x := range rs {
		out[i] = Route{VPC: vpc, Prefix: pfx(x.p), Type: x.typ, Link: x.link, NextHopVPC: x.hop,
			Region: x.region, Priority: x.prio, Origin: x.origin, Imported: x.imp}
	}
	return out
}

// netipEqual lets go-cmp compare netip values, whose fields are unexported.
var netipEqual = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

// ignoreNote compares route tables without the free-text notes (tested on their own).
var ignoreNote = cmpopts.IgnoreFields(Route{}, "Note")

func diffRoutes(t *testing.T, got, want []Route) {
	t.Helper()
	if d := cmp.Diff(want, got, ignoreNote, netipEqual, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", d)
	}
}
