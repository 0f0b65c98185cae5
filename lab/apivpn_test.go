package lab_test

import (
	"context"
	"net/netip"
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

func TestPairTunnelsJoinTwoVPCsOnceBothEndsHaveSessions(t *testing.T) {
	cs := &lab.CloudState{
		Networks: map[string]*lab.APINetwork{"net-b": {Name: "net-b", RoutingMode: "REGIONAL",
			Routers: []lab.APIRouter{{Name: "r-b", Region: "us-east4", ASN: 64600}}}},
		VPNGateways: map[string]cloud.VpnGateway{
			"gw-a": {Name: "gw-a", Network: "net-a", Region: "us-central1"},
			"gw-b": {Name: "gw-b", Network: "net-b", Region: "us-east4"}}}
	c := labcloud.Lab{L: apiVPNLab(t, cs)}
	ctx := context.Background()
	for _, tc := range []struct {
		t    cloud.VpnTunnel
		want string
	}{
		{cloud.VpnTunnel{Name: "t", Region: "us-central1", VpnGateway: "gw-a", PeerGcpGateway: "gw-x", Router: "r-a"}, `peer vpn gateway "gw-x" does not exist`},
		{cloud.VpnTunnel{Name: "t", Region: "us-central1", VpnGateway: "gw-a", PeerGcpGateway: "gw-b", PeerRegion: "us-west1", Router: "r-a"}, "is in us-east4, not us-west1"},
		{cloud.VpnTunnel{Name: "t", Region: "us-central1", VpnGateway: "gw-a", PeerGcpGateway: "gw-a", Router: "r-a"}, "both on network net-a"},
		{cloud.VpnTunnel{Name: "t", Region: "us-central1", VpnGateway: "gw-a", PeerGcpGateway: "gw-b", Router: "r-b"}, `network net-a has no router "r-b"`},
		{cloud.VpnTunnel{Name: "t", Region: "us-east4", VpnGateway: "gw-a", PeerGcpGateway: "gw-b", Router: "r-a"}, "is not its gateway"},
		{cloud.VpnTunnel{Name: "t", Region: "us-central1", VpnGateway: "gw-a", VpnGatewayInterface: 2, PeerGcpGateway: "gw-b", Router: "r-a"}, "is not 0 or 1"},
	} {
		if err := c.InsertVpnTunnel(ctx, tc.t); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("InsertVpnTunnel(%+v): %v; want an error with %q", tc.t, err, tc.want)
		}
	}
	// The records a pair's tunnels and sessions leave (inserting them realizes the lab, which
	// needs root), and the link they declare: none until both ends have a session.
	peer := func(name string, a, b string) cloud.RouterBgpPeer {
		return cloud.RouterBgpPeer{Name: name, Tunnel: name, IPAddress: netip.MustParseAddr(a), PeerIPAddress: netip.MustParseAddr(b), PeerAsn: 64600}
	}
	if err := c.L.UpdateCloud(func(s *lab.CloudState) error {
		s.Tunnels = map[string]lab.VPNTunnel{
			"a-0": {VpnTunnel: cloud.VpnTunnel{Name: "a-0", Region: "us-central1", VpnGateway: "gw-a", PeerGcpGateway: "gw-b", Router: "r-a"}, Link: lab.PairLink("gw-a", "gw-b"), Seq: 4},
			"b-0": {VpnTunnel: cloud.VpnTunnel{Name: "b-0", Region: "us-east4", VpnGateway: "gw-b", PeerGcpGateway: "gw-a", Router: "r-b"}, Link: lab.PairLink("gw-b", "gw-a"), Seq: 5}}
		s.BGPPeers = map[string][]cloud.RouterBgpPeer{"net-a/r-a": {peer("a-0", "169.254.200.1", "169.254.200.2")}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.L.Refresh(); err != nil {
		t.Fatal(err)
	}
	if l := c.L.Current.Link("gw-a+gw-b"); l != nil {
		t.Fatalf("pair link declared with one end's session only: %+v", l)
	}
	if err := c.L.UpdateCloud(func(s *lab.CloudState) error {
		s.BGPPeers["net-b/r-b"] = []cloud.RouterBgpPeer{peer("b-0", "169.254.200.2", "169.254.200.1")}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.L.Refresh(); err != nil {
		t.Fatal(err)
	}
	l := c.L.Current.Link("gw-a+gw-b")
	if l == nil || l.Type != topology.LinkVPN || l.Solution != "" || l.A.VPC != "net-a" || l.A.Router != "r-a" || l.B.VPC != "net-b" || l.B.Router != "r-b" {
		t.Fatalf("pair link %+v; want an always-present vpn link net-a/r-a to net-b/r-b", l)
	}
	if got := c.L.Plan.LinkIf["gw-a+gw-b"]; got != "p5004" {
		t.Errorf("the pair's interface %q; want p5004 (its lowest tunnel sequence number)", got)
	}
	if ps := c.L.Model.Advertised("gw-a+gw-b", "net-b"); len(ps) != 0 {
		t.Errorf("net-b announces %v; want nothing (it has no subnets)", ps)
	}
}
