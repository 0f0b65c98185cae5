package netmodel

import (
	"strings"
	"testing"

	"reachgate/framework/topology"
)

const seedFile = "../../fixtures/topologies/seed.yaml"

// TestSeedFile checks the model of the real seed file, as the parser resolves it.
func TestSeedFile(t *testing.T) {
	t.Parallel()
	tp, err := topology.ParseFile(seedFile)
	if err != nil {
		// The parser is written concurrently; until it accepts the seed, seedLike covers it.
		t.Skipf("parse %s: %v", seedFile, err)
	}
	m := mustCompute(t, tp)

	t.Run("routes", func(t *testing.T) {
		t.Parallel()
		dyn := func(p, hop, origin string) r {
			return r{p: p, typ: Dynamic, link: "tp-interconnect", hop: hop, prio: DefaultDynamicPriority, origin: origin}
		}
		psub := func(p, link, hop string) r {
			return r{p: p, typ: PeeringSubnet, link: link, hop: hop, origin: hop, imp: true}
		}
		local := func(p, vpc string) r { return r{p: p, typ: Subnet, origin: vpc} }
		tests := []struct {
			vpc  string
			want []Route
		}{
			// hub-router: CUSTOM ALL_SUBNETS + 10.128.0.0/20; the third party installs them globally.
			{"third-party", want("third-party",
				dyn("10.10.0.0/20", "hub", "hub/hub-router"),
				dyn("10.128.0.0/20", "hub", "hub/hub-router"),
				local("172.31.0.0/16", "third-party"))},
			// GLOBAL hub: learned 172.31.0.0/16 applies everywhere; gke's subnets are peering routes.
			{"hub", want("hub",
				local("10.10.0.0/20", "hub"),
				psub("10.36.0.0/14", "hub-to-gke", "gke"),
				psub("10.40.0.0/20", "hub-to-gke", "gke"),
				psub("10.128.0.0/20", "hub-to-gke", "gke"),
				psub("10.156.0.0/20", "hub-to-gke", "gke"),
				dyn("172.31.0.0/16", "third-party", "third-party/tp-router"))},
			// hub exports and gke imports custom routes; the master range is a peering subnet route.
			{"gke", want("gke",
				psub("10.10.0.0/20", "hub-to-gke", "hub"),
				local("10.36.0.0/14", "gke"),
				local("10.40.0.0/20", "gke"),
				local("10.128.0.0/20", "gke"),
				local("10.156.0.0/20", "gke"),
				r{p: "172.31.0.0/16", typ: PeeringDynamic, link: "hub-to-gke", hop: "hub", prio: DefaultDynamicPriority,
					origin: "third-party/tp-router", imp: true},
				psub("192.168.32.32/28", "gke-3b1a4c5d-peer", "gke-master"))},
			// Not transitive: nothing of the hub or the third party reaches the master VPC.
			{"gke-master", want("gke-master",
				psub("10.36.0.0/14", "gke-3b1a4c5d-peer", "gke"),
				psub("10.40.0.0/20", "gke-3b1a4c5d-peer", "gke"),
				psub("10.128.0.0/20", "gke-3b1a4c5d-peer", "gke"),
				psub("10.156.0.0/20", "gke-3b1a4c5d-peer", "gke"),
				local("192.168.32.32/28", "gke-master"))},
		}
		for _, tc := range tests {
			t.Run(tc.vpc, func(t *testing.T) {
				t.Parallel()
				diffRoutes(t, m.Routes(tc.vpc), tc.want)
			})
		}
	})

	t.Run("traces", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, src, dst string
			reachable      bool
			reason         string
		}{
			{"tp-vm to private endpoint", "172.31.23.209", "192.168.32.34", false, nonTransitive},
			{"gke node to private endpoint", "10.128.0.3", "192.168.32.34", true, ""},
			{"tp-vm to gke node", "172.31.23.209", "10.128.0.4", true, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				got := m.Trace(ip(tc.src), ip(tc.dst))
				if got.Reachable != tc.reachable || !strings.Contains(got.Reason, tc.reason) {
					t.Errorf("Trace(%s, %s) = reachable %v, %q; want %v and a reason containing %q",
						tc.src, tc.dst, got.Reachable, got.Reason, tc.reachable, tc.reason)
				}
			})
		}
	})
}
