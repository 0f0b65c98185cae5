package netmodel

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"reachgate/framework/topology"
)

const nonTransitive = "hub VPC has no route to 192.168.32.34: 192.168.32.32/28 is a peering subnet route in gke " +
	"(imported over gke-3b1a4c5d-peer), and routes learned over a peering are not passed on to a third network " +
	"(peering is not transitive)"

// seedWith returns the seed-like topology changed by edit.
func seedWith(edit func(*topology.Topology)) *topology.Topology {
	tp := seedLike()
	edit(tp)
	return tp
}

func TestTrace(t *testing.T) {
	t.Parallel()
	const (
		tpVM   = "172.31.23.209"
		node   = "10.128.0.3"
		master = "192.168.32.34"
		jump   = "10.156.0.8"
	)
	hubToGKE := func(hubExport, gkeImport bool) *topology.Topology {
		return seedWith(func(tp *topology.Topology) {
			tp.Link("hub-to-gke").A.ExportCustomRoutes = hubExport
			tp.Link("hub-to-gke").B.ImportCustomRoutes = gkeImport
		})
	}
	tests := []struct {
		name      string
		tp        *topology.Topology
		src, dst  string
		reachable bool
		fwd, ret  string // VPC chains, "a → b"
		reason    []string
		blocked   string // exact Forward.Blocked, when set
	}{
		{
			// GCP: peering is not transitive; the hub's router cannot announce what the hub does
			// not have, so the third party has no route to the master range.
			name: "tp-vm to private endpoint (baseline)", tp: seedLike(), src: tpVM, dst: master,
			fwd: "third-party", ret: "gke-master",
			reason: []string{"third-party VPC has no route to 192.168.32.34", "nothing hub-router announces over interconnect tp-interconnect covers it", nonTransitive},
		},
		{
			// GCP: announcing the master range from the hub does not help: the hub itself has
			// no route, because gke learned it over a peering.
			name: "hub announces the master range", src: tpVM, dst: master, fwd: "third-party → hub", ret: "gke-master",
			tp: seedWith(func(tp *topology.Topology) {
				r := tp.Network("hub").Router("hub-router")
				r.Advertise.Ranges = append(r.Advertise.Ranges, pfx("192.168.32.32/28"))
			}),
			reason: []string{"cannot reach", nonTransitive}, blocked: nonTransitive,
		},
		{
			// GCP: subnet routes are always exchanged over the GKE peering, both ways.
			name: "gke node to private endpoint", tp: seedLike(), src: node, dst: master, reachable: true,
			fwd: "gke → gke-master", ret: "gke-master → gke",
		},
		{
			// Any address inside a subnet is delivered on reaching the owning VPC.
			name: "gke node to a bare master-range address", tp: seedLike(), src: node, dst: "192.168.32.40", reachable: true,
			fwd: "gke → gke-master", ret: "gke-master → gke",
		},
		{
			// GCP: hub CUSTOM advertisement announces the peered 10.128.0.0/20; the hub exports
			// its dynamic 172.31.0.0/16 and gke imports it, so the reply finds its way.
			name: "tp-vm to gke node", tp: seedLike(), src: tpVM, dst: node, reachable: true,
			fwd: "third-party → hub → gke", ret: "gke → hub → third-party",
		},
		{
			// GCP: the master VPC sees 172.31.0.0/16 nowhere: in gke it is a peering route.
			name: "master to tp-vm", tp: seedLike(), src: master, dst: tpVM,
			fwd: "gke-master", ret: "third-party",
			reason: []string{"gke-master VPC has no route to 172.31.23.209: 172.31.0.0/16 is a peering dynamic route in gke (imported over hub-to-gke)"},
		},
		{
			// GCP: custom routes need exportCustomRoutes on the exporter (hub).
			name: "hub does not export custom routes", tp: hubToGKE(false, true), src: tpVM, dst: node,
			fwd: "third-party → hub → gke", ret: "gke",
			reason: []string{"reply does not come back", "gke VPC has no route to 172.31.23.209: 172.31.0.0/16 is a dynamic route in hub",
				"peering hub-to-gke does not carry custom routes from hub to gke: exportCustomRoutes is false on hub's side ("},
		},
		{
			// GCP: ... and importCustomRoutes on the importer (gke).
			name: "gke does not import custom routes", tp: hubToGKE(true, false), src: tpVM, dst: node,
			fwd: "third-party → hub → gke", ret: "gke",
			reason: []string{"from hub to gke: importCustomRoutes is false on gke's side ("},
		},
		{
			name: "neither flag", tp: hubToGKE(false, false), src: tpVM, dst: node,
			fwd: "third-party → hub → gke", ret: "gke",
			reason: []string{"exportCustomRoutes is false on hub's side and importCustomRoutes is false on gke's side"},
		},
		{
			// GCP: DEFAULT advertises only the router's own VPC subnets, never peered ranges.
			name: "hub router on DEFAULT advertisement", src: tpVM, dst: node, fwd: "third-party", ret: "gke → hub → third-party",
			tp: seedWith(func(tp *topology.Topology) {
				tp.Network("hub").Router("hub-router").Advertise = topology.Advertisement{Mode: topology.AdvertiseDefault}
			}),
			reason: []string{"third-party VPC has no route to 10.128.0.3: hub has a peering subnet route 10.128.0.0/20 but does not announce it over interconnect tp-interconnect: hub-router's DEFAULT advertisement announces all its subnets (10.10.0.0/20)"},
		},
		{
			// GCP: the jumpbox subnet is not in the hub's CUSTOM ranges, so the reply has no route.
			name: "jumpbox to tp-vm", tp: seedLike(), src: jump, dst: tpVM,
			fwd: "gke → hub → third-party", ret: "third-party",
			reason: []string{"reply does not come back", "hub has a peering subnet route 10.156.0.0/20 but does not announce it"},
		},
		{
			// GCP: a dynamic route crossing a peering follows the exporter's REGIONAL mode: from
			// europe-west3 the jumpbox cannot use 172.31.0.0/16 learned in us-central1.
			name: "REGIONAL hub, jumpbox in another region", src: jump, dst: tpVM, fwd: "gke", ret: "third-party",
			tp:     seedWith(func(tp *topology.Topology) { tp.Network("hub").RoutingMode = topology.RoutingRegional }),
			reason: []string{"applies only to traffic entering in us-central1 because hub uses REGIONAL dynamic routing, but this packet entered in europe-west3"},
		},
		{
			name: "unknown source address", tp: seedLike(), src: "8.8.8.8", dst: node,
			reason: []string{"8.8.8.8 is neither a host's address nor inside any subnet"},
		},
		{
			// No link brings an isolated VPC's range anywhere.
			name: "isolated vpc", src: node, dst: "10.200.0.1", fwd: "gke", ret: "island",
			tp: seedWith(func(tp *topology.Topology) {
				tp.Networks = append(tp.Networks, gcpNet("island", topology.RoutingGlobal, sub("isle", "us-central1", "10.200.0.0/16")))
			}),
			reason: []string{"gke VPC has no route to 10.200.0.1: 10.200.0.1 is in subnet isle of vpc island, and no peering, interconnect or VPN brings that range to gke"},
		},
		{
			// Two routers announcing the same range to each other: a routing loop.
			name: "routing loop", src: "10.1.0.5", dst: "203.0.113.5", ret: "c",
			fwd: strings.Repeat("a → x → ", MaxHops/2-1) + "a → x",
			tp: topo([]*topology.Network{
				withRouter(gcpNet("a", topology.RoutingGlobal, sub("sa", "us-central1", "10.1.0.0/16")), "ra", "us-central1",
					topology.AdvertiseCustom, "203.0.113.0/24"),
				withRouter(awsNet("x", sub("sx", "us-east-1", "172.31.0.0/16")), "xr", "us-east-1",
					topology.AdvertiseCustom, "203.0.113.0/24"),
				gcpNet("c", topology.RoutingGlobal, sub("sc", "us-central1", "203.0.113.0/24")),
			}, []*topology.Connection{bgp("ic", topology.LinkInterconnect, "a", "ra", "x", "xr")},
				host("h", "a", "sa", "us-central1", "10.1.0.5")),
			reason: []string{"routing loop: 203.0.113.5 is still not delivered after 16 hops"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustCompute(t, tc.tp).Trace(ip(tc.src), ip(tc.dst))
			if got.Reachable != tc.reachable {
				t.Errorf("Reachable = %v; want %v (reason: %s)", got.Reachable, tc.reachable, got.Reason)
			}
			if c := got.Forward.chain(); c != tc.fwd {
				t.Errorf("forward path = %q; want %q", c, tc.fwd)
			}
			if c := got.Return.chain(); c != tc.ret {
				t.Errorf("return path = %q; want %q", c, tc.ret)
			}
			if tc.blocked != "" && got.Forward.Blocked != tc.blocked {
				t.Errorf("forward blocked = %q; want %q", got.Forward.Blocked, tc.blocked)
			}
			for _, w := range tc.reason {
				if !strings.Contains(got.Reason, w) {
					t.Errorf("reason = %q; want it to contain %q", got.Reason, w)
				}
			}
		})
	}
}

func TestTraceHops(t *testing.T) {
	t.Parallel()
	type hop struct {
		VPC, Region string
		Type        RouteType
		Prefix      netip.Prefix
	}
	got := mustCompute(t, seedLike()).Trace(ip("172.31.23.209"), ip("10.128.0.3"))
	var fwd, ret []hop
	for _, p := range []struct {
		path Path
		out  *[]hop
	}{{got.Forward, &fwd}, {got.Return, &ret}} {
		for _, h := range p.path.Hops {
			*p.out = append(*p.out, hop{h.VPC, h.Region, h.Route.Type, h.Route.Prefix})
		}
	}
	// Entering the hub over the interconnect puts the packet in hub-router's region; a
	// peering keeps the region the packet had.
	wantFwd := []hop{
		{"third-party", "us-east-1", Dynamic, pfx("10.128.0.0/20")},
		{"hub", "us-central1", PeeringSubnet, pfx("10.128.0.0/20")},
		{"gke", "us-central1", Subnet, pfx("10.128.0.0/20")},
	}
	wantRet := []hop{
		{"gke", "us-central1", PeeringDynamic, pfx("172.31.0.0/16")},
		{"hub", "us-central1", Dynamic, pfx("172.31.0.0/16")},
		{"third-party", "us-east-1", Subnet, pfx("172.31.0.0/16")},
	}
	if d := cmp.Diff(wantFwd, fwd, netipEqual); d != "" {
		t.Errorf("forward hops mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantRet, ret, netipEqual); d != "" {
		t.Errorf("return hops mismatch (-want +got):\n%s", d)
	}
	if !got.Forward.Delivered || !got.Return.Delivered || got.Forward.Blocked != "" {
		t.Errorf("paths = %+v / %+v; want both delivered", got.Forward, got.Return)
	}
}

// Two VPCs that nothing joins may use the same range: a trace from a host is placed by the
// host's VPC, where a trace from its address finds the first host that has it.
func TestTraceFlowFromPlacesTheHostByItsVPC(t *testing.T) {
	t.Parallel()
	tp := topo([]*topology.Network{
		gcpNet("a", "", sub("a-sub", "us-central1", "10.0.0.0/24")),
		gcpNet("b", "", sub("b-sub", "us-central1", "10.0.0.0/24")),
		gcpNet("c", "", sub("c-sub", "us-central1", "10.1.0.0/24")),
	}, []*topology.Connection{peer("a-c", "a", flags{}, "c", flags{})},
		host("in-a", "a", "a-sub", "us-central1", "10.0.0.5"),
		host("in-b", "b", "b-sub", "us-central1", "10.0.0.5"),
		host("in-c", "c", "c-sub", "us-central1", "10.1.0.5"))
	m := mustCompute(t, tp)
	if got := m.TraceFlowFrom("in-a", ip("10.1.0.5"), Flow{}); !got.Reachable {
		t.Errorf("in-a -> in-c over the peering: %s; want reachable", got.Reason)
	}
	got := m.TraceFlowFrom("in-b", ip("10.1.0.5"), Flow{})
	if got.Reachable || !strings.Contains(got.Reason, "in-b (10.0.0.5, vpc b)") {
		t.Errorf("in-b -> in-c: %s; want unreachable, from in-b in vpc b", got.Reason)
	}
	if got := m.TraceFlowFrom("nobody", ip("10.1.0.5"), Flow{}); got.Reachable || !strings.Contains(got.Reason, `no host "nobody"`) {
		t.Errorf("from an unknown host: %+v", got)
	}
	// To the shared address, the packet goes where routing takes it: in-a, over the peering,
	// whichever host of that address the topology lists first.
	tp.Hosts[0], tp.Hosts[1] = tp.Hosts[1], tp.Hosts[0]
	m = mustCompute(t, tp)
	got = m.TraceFlowFrom("in-c", ip("10.0.0.5"), Flow{})
	if !got.Reachable || !strings.Contains(got.Reason, "reaches in-a (10.0.0.5, vpc a)") {
		t.Errorf("in-c -> 10.0.0.5: %s; want in-a reached over the peering", got.Reason)
	}
}
