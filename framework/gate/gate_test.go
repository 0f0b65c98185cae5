package gate

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"reachgate/framework/cloud"
	"reachgate/framework/probe"
	"reachgate/framework/topology"
)

func baseline() *Snapshot {
	return &Snapshot{Version: Version, Taken: time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC), Topology: "bgp-export",
		Routers: []Router{{Network: "gke", Name: "gke-router", Mode: "CUSTOM", Groups: []string{"ALL_SUBNETS"},
			Ranges: []string{"192.168.32.32/28"}, Peers: []string{"p0 169.254.10.2 64512", "p1 169.254.10.6 64512"}, Up: 2,
			Learned: []string{"172.31.0.0/16"}}},
		Peerings:   []Peering{{Network: "gke", Name: "gke-peering", ExportCustomRoutes: true}},
		Authorized: &cloud.AuthorizedNetworks{Enabled: true, CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("172.31.0.0/16")}},
		Flows: []Flow{{From: "tp-vm", To: "192.168.32.34:443", Outcome: probe.Connected, Why: "reaches",
			Certificate: &Certificate{LeafSHA256: "aa", NotAfter: time.Date(2027, 12, 6, 0, 0, 0, 0, time.UTC), Verified: true},
			Version:     &VersionCheck{Samples: 20, P95Ms: 2.5, BudgetMs: 20, Profile: "none"}}},
		Model: &topology.File{Spec: topology.Spec{
			VPCs:  []topology.VPC{{Name: "gke", Firewall: []topology.FirewallRule{{Name: "allow-ssh", SourceRanges: []string{"172.31.0.0/16"}, Ports: []string{"tcp:22"}}}}},
			Links: []topology.Link{{Name: "tp-ha-vpn", Type: "vpn", A: topology.LinkEnd{VPC: "third-party"}, B: topology.LinkEnd{VPC: "gke"}}}}},
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name       string
		change     func(*Snapshot)
		regression bool
		want       []string // substrings of the text
	}{
		{"nothing changed", func(*Snapshot) {}, false, []string{"PASS — 0 flow(s) changed verdict, 0 setting(s)"}},
		{"export turned off breaks the flow", func(s *Snapshot) {
			s.Peerings[0].ExportCustomRoutes = false
			s.Flows[0].Outcome, s.Flows[0].Why = probe.Timeout, "the master VPC has no route back"
		}, true, []string{"REGRESSION", "peering gke-peering (network gke): exportCustomRoutes: true -> false",
			"flow tp-vm -> 192.168.32.34:443: Connected -> Timeout", "now: the master VPC has no route back"}},
		{"a session down is a regression even while the flow holds", func(s *Snapshot) { s.Routers[0].Up = 1 }, true,
			[]string{"REGRESSION", "router gke-router (network gke): sessions up: 2 -> 1"}},
		{"a harmless setting", func(s *Snapshot) { s.Peerings[0].ImportCustomRoutes = true }, false,
			[]string{"PASS", "importCustomRoutes: false -> true"}},
		{"advertisement back to DEFAULT", func(s *Snapshot) {
			s.Routers[0].Mode, s.Routers[0].Ranges = "DEFAULT", nil
			s.Flows[0].Outcome = probe.Timeout
		}, true, []string{"advertiseMode: CUSTOM -> DEFAULT", "advertisedIpRanges: 192.168.32.32/28 -> (none)"}},
		{"a flow now refused", func(s *Snapshot) { s.Flows[0].Outcome = probe.Refused }, true, []string{"Connected -> Refused"}},
		{"authorized range removed", func(s *Snapshot) { s.Authorized.CIDRBlocks = nil; s.Flows[0].Outcome = probe.Timeout }, true,
			[]string{"master authorized networks: cidrBlocks: 172.31.0.0/16 -> (none)"}},
		{"peering gone", func(s *Snapshot) { s.Peerings = nil }, true, []string{"peering gke-peering (network gke): present -> absent"}},
		{"a new serving certificate from the same CA", func(s *Snapshot) { s.Flows[0].Certificate.LeafSHA256 = "bb" }, false,
			[]string{"PASS", "certificate at 192.168.32.34:443 seen from tp-vm: leaf SHA-256: aa -> bb"}},
		{"a certificate that no longer verifies", func(s *Snapshot) {
			s.Flows[0].Certificate = &Certificate{LeafSHA256: "cc", NotAfter: s.Flows[0].Certificate.NotAfter, Problem: "not signed by the cluster CA"}
		}, true, []string{"verifies: true -> false not signed by the cluster CA"}},
		{"GET /version over its budget", func(s *Snapshot) { s.Flows[0].Version.P95Ms = 45 }, true,
			[]string{"GET /version at 192.168.32.34:443 from tp-vm: p95 latency budget: <= 20.000 ms (profile none) -> p95 45.000 ms, 0 of 20 errors: budget missed"}},
		{"GET /version refused now", func(s *Snapshot) { s.Flows[0].Version.Error = "warm-up GET: status 403" }, true,
			[]string{"GET /version at 192.168.32.34:443 from tp-vm: answered -> warm-up GET: status 403"}},
		{"a firewall rule added and one changed", func(s *Snapshot) {
			fw := &s.Model.Spec.VPCs[0].Firewall
			prio := 900
			(*fw)[0].Ports = []string{"tcp:22", "icmp"}
			*fw = append(*fw, topology.FirewallRule{Name: "deny-ssh", Action: "deny", Priority: &prio, SourceRanges: []string{"172.31.0.0/16"}, Ports: []string{"tcp:22"}})
		}, false, []string{"firewall rule deny-ssh (network gke): absent -> deny tcp:22 from 172.31.0.0/16, priority 900",
			"firewall rule allow-ssh (network gke): allow tcp:22 from 172.31.0.0/16, priority 1000 -> allow tcp:22, icmp from 172.31.0.0/16, priority 1000"}},
		{"the VPN link gone", func(s *Snapshot) { s.Model.Spec.Links = nil; s.Flows[0].Outcome = probe.Timeout }, true,
			[]string{"vpn link tp-ha-vpn: third-party <-> gke -> absent"}},
		{"a certificate near expiry", func(s *Snapshot) { s.Flows[0].Certificate.NotAfter = s.Taken.Add(10 * 24 * time.Hour) }, true,
			[]string{"expiry: at least 30 days -> 10.0 days"}},
	} {
		cur := baseline()
		cur.Authorized = &cloud.AuthorizedNetworks{Enabled: true, CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("172.31.0.0/16")}}
		tc.change(cur)
		r, err := Compare(baseline(), cur)
		if err != nil {
			t.Fatal(err)
		}
		if r.Regression != tc.regression {
			t.Errorf("%s: regression %v, want %v\n%s", tc.name, r.Regression, tc.regression, r.Text())
		}
		for _, w := range tc.want {
			if !strings.Contains(r.Text(), w) {
				t.Errorf("%s: the text lacks %q:\n%s", tc.name, w, r.Text())
			}
		}
	}
	old := baseline()
	old.Version = 0
	if _, err := Compare(old, baseline()); err == nil || !strings.Contains(err.Error(), "take a new baseline") {
		t.Errorf("a baseline of another version: %v", err)
	}
	// A flow that was broken and now works is reported, not a regression.
	broken := baseline()
	broken.Flows[0].Outcome = probe.Timeout
	if r, _ := Compare(broken, baseline()); r.Regression || len(r.Flows) != 1 {
		t.Errorf("a repaired flow: %+v", r)
	}
}
