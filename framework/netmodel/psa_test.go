package netmodel

import (
	"slices"
	"strings"
	"testing"

	"reachgate/framework/topology"
)

// Private Service Access (Memorystore for Redis) is ordinary VPC Network Peering between the
// consumer VPC and Google's producer VPC, named servicenetworking-googleapis-com; no routing
// rule of it differs from any other peering, so the model has no special case for it:
//   - the producer's subnets, carved from the consumer's allocated range, cross as subnet
//     routes, always;
//   - the allocated range itself is a reservation, not a route;
//   - custom routes (the third party's range, learned over the HA VPN) cross only with
//     exportCustomRoutes on the consumer's side and importCustomRoutes on Google's side;
//   - a Cloud Router announces a peered range only when a CUSTOM advertisement lists it.
// The only place allocated ranges appear is an explanation's advice: announce the whole
// allocated range rather than the producer subnet it holds.

const (
	psaFile    = "../../fixtures/topologies/bgp-export-psa.yaml"
	altPSAFile = "../../fixtures/topologies/alt-bgp-export-psa.yaml"
	psaPeering = topology.PeeringServiceNetworking
	gkePeering = "gke-3b1a4c5d-peer"
	psaTPVM    = "172.31.23.209"
	psaRedis   = "10.60.0.3"
	psaMaster  = "192.168.32.34"
	psaJump    = "10.156.0.8"
)

// redisTLS is the flow to a Memorystore instance with in-transit encryption.
var redisTLS = Flow{Proto: "tcp", Port: topology.RedisTLSPort}

// psaTopology parses file with every solution link created (the HA VPN up, as after Apply)
// and applies edit.
func psaTopology(t *testing.T, file string, edit func(*topology.Topology)) *topology.Topology {
	t.Helper()
	tp, err := topology.ParseFile(file)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	tp = tp.Active(func(string) bool { return true })
	if edit != nil {
		edit(tp)
	}
	return tp
}

// advertise sets the CUSTOM advertisement of router in vpc: ALL_SUBNETS and ranges.
func advertise(vpc, router string, ranges ...string) func(*topology.Topology) {
	return func(tp *topology.Topology) {
		a := topology.Advertisement{Mode: topology.AdvertiseCustom, Groups: []string{topology.GroupAllSubnets}}
		for _, r := range ranges {
			a.Ranges = append(a.Ranges, pfx(r))
		}
		tp.Network(vpc).Router(router).Advertise = a
	}
}

// export sets exportCustomRoutes on vpc's side of each named peering.
func export(vpc string, links ...string) func(*topology.Topology) {
	return func(tp *topology.Topology) {
		for _, name := range links {
			l := tp.Link(name)
			if l.A.VPC == vpc {
				l.A.ExportCustomRoutes = true
			} else {
				l.B.ExportCustomRoutes = true
			}
		}
	}
}

func edits(es ...func(*topology.Topology)) func(*topology.Topology) {
	return func(tp *topology.Topology) {
		for _, e := range es {
			e(tp)
		}
	}
}

func TestPSARoutes(t *testing.T) {
	t.Parallel()
	m := mustCompute(t, psaTopology(t, psaFile, nil))
	has := func(vpc, prefix string) (Route, bool) {
		i := slices.IndexFunc(m.Routes(vpc), func(r Route) bool { return r.Prefix == pfx(prefix) })
		if i < 0 {
			return Route{}, false
		}
		return m.Routes(vpc)[i], true
	}
	// Private services access: the producer's subnets are exchanged as subnet routes, so the
	// consumer VPC gke has 10.60.0.0/29 as a PEERING_SUBNET route over
	// servicenetworking-googleapis-com, with no flag set.
	got, ok := has("gke", "10.60.0.0/29")
	want := Route{VPC: "gke", Prefix: pfx("10.60.0.0/29"), Type: PeeringSubnet, Link: psaPeering, NextHopVPC: "redis-producer",
		Origin: "redis-producer", Imported: true}
	got.Note = ""
	if !ok || got != want {
		t.Errorf("gke's route to 10.60.0.0/29 = %+v (found %v); want %+v", got, ok, want)
	}
	// VPC Network Peering: subnet routes cross both ways, so the producer knows the consumer's
	// subnets (the replies to in-VPC clients and nodes).
	if r, ok := has("redis-producer", "10.128.0.0/20"); !ok || r.Type != PeeringSubnet || r.Link != psaPeering {
		t.Errorf("redis-producer's route to 10.128.0.0/20 = %+v (found %v); want a peering subnet route over %s", r, ok, psaPeering)
	}
	// Private services access: the allocated range is a reservation of addresses, not a route.
	if r, ok := has("gke", "10.60.0.0/16"); ok {
		t.Errorf("gke has a route for the allocated range itself: %+v; want none", r)
	}
	// VPC Network Peering: peering is not transitive, so the master VPC, peered with gke too,
	// never learns the producer's subnet, nor the producer the master range.
	for _, c := range [][2]string{{"gke-master", "10.60.0.0/29"}, {"redis-producer", "192.168.32.32/28"}} {
		if r, ok := has(c[0], c[1]); ok {
			t.Errorf("%s has a route to %s: %+v; want none (peering is not transitive)", c[0], c[1], r)
		}
	}
	// VPC Network Peering: without exportCustomRoutes on gke's side no custom route crosses,
	// so the producer has no route to the third party's range.
	if r, ok := has("redis-producer", "172.31.0.0/16"); ok {
		t.Errorf("redis-producer has a route to 172.31.0.0/16 without export: %+v", r)
	}
}

func TestPSATrace(t *testing.T) {
	t.Parallel()
	const (
		notAnnounced = "third-party VPC has no route to 10.60.0.3: gke has a peering subnet route 10.60.0.0/29 but does not announce it over vpn tp-ha-vpn: "
		noReply      = "redis-producer VPC has no route to 172.31.23.209: 172.31.0.0/16 is a dynamic route in gke"
		noCustom     = "peering servicenetworking-googleapis-com does not carry custom routes from gke to redis-producer: exportCustomRoutes is false on gke's side"
		allocated    = "10.60.0.0/16, allocated range google-managed-services-gke, which holds 10.60.0.0/29,"
	)
	// solution is what bgp-export does: gke-router announces the master range, gke exports its
	// custom routes over the GKE peering.
	solution := edits(advertise("gke", "gke-router", "192.168.32.32/28"), export("gke", gkePeering))
	// psaFix adds the PSA part: the allocated range announced, the export over the PSA peering.
	psaFix := edits(advertise("gke", "gke-router", "192.168.32.32/28", "10.60.0.0/16"), export("gke", gkePeering, psaPeering))
	tests := []struct {
		name      string
		edit      func(*topology.Topology)
		src, dst  string
		flow      Flow
		reachable bool
		fwd, ret  string
		reason    []string
	}{
		{
			// Cloud Router: DEFAULT advertises the VPC's subnets only, not peering routes —
			// 10.60.0.0/29 is a peering subnet route in gke. Nor does the reply come back: gke
			// exports no custom routes to the producer yet.
			name: "DEFAULT advertisement", src: psaTPVM, dst: psaRedis, flow: redisTLS,
			fwd: "third-party", ret: "redis-producer",
			reason: []string{notAnnounced, "gke-router's DEFAULT advertisement announces only its subnets in us-central1",
				"never peered ranges", "list " + allocated + " in a CUSTOM advertisement on gke-router", noReply, noCustom},
		},
		{
			// Cloud Router: CUSTOM advertises exactly its groups and ranges; ALL_SUBNETS is the
			// VPC's own subnets and the master range is not the producer's: the same gap, even
			// with every custom route exported.
			name: "CUSTOM with ALL_SUBNETS and the master range", src: psaTPVM, dst: psaRedis, flow: redisTLS,
			edit: edits(solution, export("gke", psaPeering)),
			fwd:  "third-party", ret: "redis-producer → gke → third-party",
			reason: []string{notAnnounced, "gke-router's CUSTOM advertisement (ALL_SUBNETS; ranges 192.168.32.32/28)",
				"add " + allocated + " to the ranges of gke-router's CUSTOM advertisement"},
		},
		{
			// VPC Network Peering: custom routes cross only when the exporter sets
			// exportCustomRoutes; the packet arrives, Redis's reply has no route back.
			name: "allocated range announced, no export over servicenetworking-googleapis-com", src: psaTPVM, dst: psaRedis, flow: redisTLS,
			edit: edits(advertise("gke", "gke-router", "192.168.32.32/28", "10.60.0.0/16"), export("gke", gkePeering)),
			fwd:  "third-party → gke → redis-producer", ret: "redis-producer",
			reason: []string{"reaches redis (10.60.0.3, vpc redis-producer) (third-party → gke → redis-producer) but the reply does not come back",
				noReply, noCustom},
		},
		{
			// Both: the allocated range announced, gke's custom routes exported to the producer
			// (Google's side imports them).
			name: "allocated range announced and exported", src: psaTPVM, dst: psaRedis, flow: redisTLS, edit: psaFix, reachable: true,
			fwd: "third-party → gke → redis-producer", ret: "redis-producer → gke → third-party",
		},
		{
			// Memorystore without in-transit encryption listens on 6379: the route is the same.
			name: "plain-text port", src: psaTPVM, dst: psaRedis, flow: Flow{Proto: "tcp", Port: topology.RedisPort}, edit: psaFix, reachable: true,
			fwd: "third-party → gke → redis-producer", ret: "redis-producer → gke → third-party",
		},
		{
			// VPC Network Peering: the importer must set importCustomRoutes too. Google sets it on
			// its side (the parser requires it written); unset, it is ordinary peering's rule.
			name: "producer side does not import", src: psaTPVM, dst: psaRedis, flow: redisTLS,
			edit: edits(psaFix, func(tp *topology.Topology) { tp.Link(psaPeering).B.ImportCustomRoutes = false }),
			fwd:  "third-party → gke → redis-producer", ret: "redis-producer",
			reason: []string{noReply, "from gke to redis-producer: importCustomRoutes is false on redis-producer's side"},
		},
		{
			// The two peerings are independent: the GKE peering's export carries the reply to the
			// master VPC only, never to the producer.
			name: "GKE peering export alone, Redis", src: psaTPVM, dst: psaRedis, flow: redisTLS,
			edit: edits(advertise("gke", "gke-router", "192.168.32.32/28", "10.60.0.0/16"), export("gke", gkePeering)),
			fwd:  "third-party → gke → redis-producer", ret: "redis-producer",
			reason: []string{noCustom},
		},
		{
			name: "GKE peering export alone, control plane", src: psaTPVM, dst: psaMaster, reachable: true,
			edit: edits(advertise("gke", "gke-router", "192.168.32.32/28", "10.60.0.0/16"), export("gke", gkePeering)),
			fwd:  "third-party → gke → gke-master", ret: "gke-master → gke → third-party",
		},
		{
			// ... and vice versa: the PSA peering's export reaches Redis, not the control plane.
			name: "PSA peering export alone, Redis", src: psaTPVM, dst: psaRedis, flow: redisTLS, reachable: true,
			edit: edits(advertise("gke", "gke-router", "192.168.32.32/28", "10.60.0.0/16"), export("gke", psaPeering)),
			fwd:  "third-party → gke → redis-producer", ret: "redis-producer → gke → third-party",
		},
		{
			name: "PSA peering export alone, control plane", src: psaTPVM, dst: psaMaster,
			edit: edits(advertise("gke", "gke-router", "192.168.32.32/28", "10.60.0.0/16"), export("gke", psaPeering)),
			fwd:  "third-party → gke → gke-master", ret: "gke-master",
			reason: []string{"peering gke-3b1a4c5d-peer does not carry custom routes from gke to gke-master: exportCustomRoutes is false on gke's side"},
		},
		{
			// Private services access: a client in the consumer VPC needs no flag nor
			// advertisement: subnet routes cross the peering both ways.
			name: "in-VPC client", src: psaJump, dst: psaRedis, flow: redisTLS, reachable: true,
			fwd: "gke → redis-producer", ret: "redis-producer → gke",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompute(t, psaTopology(t, psaFile, tc.edit))
			got := m.TraceFlow(ip(tc.src), ip(tc.dst), tc.flow)
			if got.Reachable != tc.reachable {
				t.Errorf("Reachable = %v; want %v (reason: %s)", got.Reachable, tc.reachable, got.Reason)
			}
			if c := got.Forward.chain(); c != tc.fwd {
				t.Errorf("forward path = %q; want %q", c, tc.fwd)
			}
			if c := got.Return.chain(); c != tc.ret {
				t.Errorf("return path = %q; want %q", c, tc.ret)
			}
			for _, w := range tc.reason {
				if !strings.Contains(got.Reason, w) {
					t.Errorf("reason = %q; want it to contain %q", got.Reason, w)
				}
			}
			// The producer VPC is Google's: no customer firewall judges the flow, and nothing
			// speaks of GKE's master there.
			if tc.dst == psaRedis {
				if a := got.Admission; got.Forward.Delivered && (a == nil || !a.Allowed || !strings.Contains(a.Reason, "managed by servicenetworking")) {
					t.Errorf("admission = %+v; want allowed, managed by servicenetworking", a)
				}
				if strings.Contains(got.Reason, "master") && !strings.Contains(got.Reason, "192.168.32.32/28") {
					t.Errorf("reason speaks of the master for Redis: %q", got.Reason)
				}
			}
		})
	}
}

// TestPSAAltFixture checks the second address plan: unreachable as shipped (the HA VPN does
// not exist), reachable with the solution and the PSA fix applied on prod's names.
func TestPSAAltFixture(t *testing.T) {
	t.Parallel()
	const onpremVM, redis = "192.168.101.17", "10.72.0.3"
	shipped, err := topology.ParseFile(altPSAFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustCompute(t, shipped.Active(nil)).TraceFlow(ip(onpremVM), ip(redis), redisTLS); got.Reachable {
		t.Errorf("as shipped: reachable (%s); want unreachable before the solution", got.Reason)
	}
	fixed := psaTopology(t, altPSAFile, edits(
		advertise("prod", "prod-router", "172.20.0.0/28", "10.72.0.0/20"),
		export("prod", "gke-7f2e9a10-peer", psaPeering)))
	got := mustCompute(t, fixed).TraceFlow(ip(onpremVM), ip(redis), redisTLS)
	if !got.Reachable || got.Forward.chain() != "onprem → prod → redis-producer" {
		t.Errorf("with the PSA fix: reachable %v via %q (%s); want reachable via onprem → prod → redis-producer",
			got.Reachable, got.Forward.chain(), got.Reason)
	}
	// Without the allocated range in prod-router's advertisement, the advice names it.
	noAdv := psaTopology(t, altPSAFile, edits(advertise("prod", "prod-router", "172.20.0.0/28"), export("prod", psaPeering)))
	want := "add 10.72.0.0/20, allocated range google-managed-services-prod, which holds 10.72.0.0/29, to the ranges of prod-router's CUSTOM advertisement"
	if got := mustCompute(t, noAdv).TraceFlow(ip(onpremVM), ip(redis), redisTLS); got.Reachable || !strings.Contains(got.Reason, want) {
		t.Errorf("without the allocated range announced: reachable %v, %q; want unreachable, containing %q", got.Reachable, got.Reason, want)
	}
}
