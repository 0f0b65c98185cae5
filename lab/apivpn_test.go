package lab_test

import (
	"context"
	"strings"
	"testing"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/netns"
)

// apiVPNLab is the bgp-export topology's lab with a VPC the API inserted (net-a, router r-a)
// and the given cloud state; nothing is provisioned.
func apiVPNLab(t *testing.T, cs *lab.CloudState) *lab.Lab {
	t.Helper()
	topo, err := topology.ParseFile("../fixtures/topologies/bgp-export.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cs.Networks == nil {
		cs.Networks = map[string]*lab.APINetwork{}
	}
	cs.Networks["net-a"] = &lab.APINetwork{Name: "net-a", RoutingMode: "REGIONAL",
		Routers: []lab.APIRouter{{Name: "r-a", Region: "us-central1", ASN: 64514}}}
	l := &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir()}, Topology: topo}
	if err := l.UpdateCloud(func(s *lab.CloudState) error { *s = *cs; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAPIVPNLinkIsDeclaredWhileItsGatewayExists(t *testing.T) {
	v := &lab.APIVPN{Link: "run-vpn", Gateway: "gw-a", Network: "net-a", Router: "r-a", PeerGateway: "ext-a",
		PeerVPC: "third-party", PeerRouter: "tp-router", Tunnels: 4, Seq: 3}
	cs := &lab.CloudState{PeerVPNs: map[string]*lab.APIVPN{v.Link: v},
		VPNGateways: map[string]cloud.VpnGateway{"gw-a": {Name: "gw-a", Network: "net-a", Region: "us-central1"}}}
	l := apiVPNLab(t, cs)
	var names []string
	for _, s := range l.SolutionLinks() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "tp-ha-vpn,run-vpn" {
		t.Fatalf("solution links %v; want the file's tp-ha-vpn, then run-vpn", names)
	}
	s, ok := l.SolutionLinkOf("", "ext-a")
	if !ok || s.Name != "run-vpn" || s.Underlay != 128+3 || s.Tunnels != 4 || s.A.VPC != "third-party" || s.B.Gateway != "gw-a" {
		t.Fatalf("link of ext-a: %+v (found %v); want run-vpn, underlay 131, third-party to gw-a", s, ok)
	}
	if got := l.Plan.LinkIf["run-vpn"]; got != "w3" {
		t.Errorf("interface of run-vpn %q; want w3 (its sequence number, whatever else comes and goes)", got)
	}
	ifname, g, p := lab.Underlay(l.Plan, "run-vpn", s.Underlay, 1)
	if ifname != "w3u1" || g.String() != "100.100.131.5" || p.String() != "100.100.131.6" {
		t.Errorf("underlay of tunnel 1: %s %s %s; want w3u1 100.100.131.5 100.100.131.6", ifname, g, p)
	}
	// Without its gateway, the link is not declared.
	if err := l.UpdateCloud(func(s *lab.CloudState) error { delete(s.VPNGateways, "gw-a"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.SolutionLinkOf("run-vpn", ""); ok {
		t.Error("run-vpn is still a solution link after its gateway is gone")
	}
}

func TestConnectVPNRefusesWhatCannotBeConnected(t *testing.T) {
	cs := &lab.CloudState{VPNGateways: map[string]cloud.VpnGateway{"gw-a": {Name: "gw-a", Network: "net-a", Region: "us-central1"}}}
	c := labcloud.Lab{L: apiVPNLab(t, cs)}
	ok := cloud.ThirdPartyVPN{Link: "run-vpn", Gateway: "gw-a", Region: "us-central1", Network: "net-a", Router: "r-a",
		PeerGateway: "ext-a", PeerVPC: "third-party", PeerRouter: "tp-router", Tunnels: 4}
	for _, tc := range []struct {
		change func(*cloud.ThirdPartyVPN)
		want   string
	}{
		{func(v *cloud.ThirdPartyVPN) { v.Gateway = "gw-b" }, `vpn gateway "gw-b" does not exist`},
		{func(v *cloud.ThirdPartyVPN) { v.Network = "gke" }, "is on network net-a, not gke"},
		{func(v *cloud.ThirdPartyVPN) { v.PeerVPC = "gke" }, `"gke" is not a VPC of the lab's third-party cloud`},
		{func(v *cloud.ThirdPartyVPN) { v.PeerRouter = "nope" }, `has no router "nope"`},
		{func(v *cloud.ThirdPartyVPN) { v.Router = "nope" }, `network net-a has no router "nope"`},
		{func(v *cloud.ThirdPartyVPN) { v.Tunnels = 5 }, "5 tunnels"},
		{func(v *cloud.ThirdPartyVPN) { v.Link = "tp-ha-vpn" }, "already has a link of that name"},
	} {
		v := ok
		tc.change(&v)
		err := c.ConnectVPN(context.Background(), v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ConnectVPN(%+v): %v; want an error with %q", v, err, tc.want)
		}
	}
	// A gateway the file declares with both ends: nothing to do, nothing recorded.
	file := cloud.ThirdPartyVPN{Link: "tp-ha-vpn", Gateway: "gke-ha-vpn", Network: "gke", Router: "gke-router", PeerGateway: "aws-vpn-gw",
		PeerVPC: "third-party", PeerRouter: "tp-router", Tunnels: 4}
	if err := c.ConnectVPN(context.Background(), file); err != nil {
		t.Errorf("ConnectVPN of the file's link: %v", err)
	}
	if err := c.DisconnectVPN(context.Background(), "tp-ha-vpn"); err != nil {
		t.Errorf("DisconnectVPN of the file's link: %v", err)
	}
	if n := len(c.L.Cloud.PeerVPNs); n != 0 {
		t.Errorf("%d third-party ends recorded; want none", n)
	}
}
