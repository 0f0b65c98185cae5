package gcpimport

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
)

// pairRouter is a Cloud Router of region with a BGP session on each of tunnels.
func pairRouter(name, region string, tunnels ...string) *computepb.Router {
	r := &computepb.Router{Name: proto.String(name), Region: proto.String("projects/p/regions/" + region)}
	for _, t := range tunnels {
		r.Interfaces = append(r.Interfaces, &computepb.RouterInterface{Name: proto.String("if-" + t), LinkedVpnTunnel: proto.String("projects/p/regions/" + region + "/vpnTunnels/" + t)})
		r.BgpPeers = append(r.BgpPeers, &computepb.RouterBgpPeer{Name: proto.String(t), InterfaceName: proto.String("if-" + t)})
	}
	return r
}

func pairTunnel(name, region, gateway, peerRegion, peer, router string) *computepb.VpnTunnel {
	return &computepb.VpnTunnel{Name: proto.String(name), Region: proto.String("projects/p/regions/" + region),
		VpnGateway:     proto.String("projects/p/regions/" + region + "/vpnGateways/" + gateway),
		PeerGcpGateway: proto.String("projects/p/regions/" + peerRegion + "/vpnGateways/" + peer),
		Router:         proto.String("projects/p/regions/" + region + "/routers/" + router)}
}

func TestImportPairsNeedsASessionAtBothEnds(t *testing.T) {
	p := &project{tunnels: []*computepb.VpnTunnel{
		pairTunnel("hub-0", "us-central1", "gw-hub", "us-east4", "gw-tp", "hub-router"),
		pairTunnel("tp-0", "us-east4", "gw-tp", "us-central1", "gw-hub", "tp-router"),
		// A tunnel to an external gateway is no pair.
		{Name: proto.String("ext-0"), Region: proto.String("projects/p/regions/us-central1"), VpnGateway: proto.String("gw-hub"),
			PeerExternalGateway: proto.String("projects/p/global/externalVpnGateways/aws"), Router: proto.String("hub-router")},
	}}
	routers := map[string]*computepb.Router{
		"hub/hub-router": pairRouter("hub-router", "us-central1", "hub-0", "ext-0"),
		"tp/tp-router":   pairRouter("tp-router", "us-east4"),
	}
	spec := &topology.Spec{}
	importPairs(spec, p, routers)
	if len(spec.Links) != 0 {
		t.Fatalf("links %+v with a session at one end only; want none", spec.Links)
	}
	routers["tp/tp-router"] = pairRouter("tp-router", "us-east4", "tp-0")
	importPairs(spec, p, routers)
	want := topology.Link{Name: "gw-hub", Type: topology.LinkVPN, A: topology.LinkEnd{VPC: "hub", Router: "hub-router"}, B: topology.LinkEnd{VPC: "tp", Router: "tp-router"}}
	if len(spec.Links) != 1 || spec.Links[0].Name != want.Name || spec.Links[0].Type != want.Type || spec.Links[0].A != want.A || spec.Links[0].B != want.B {
		t.Fatalf("links %+v; want %+v", spec.Links, want)
	}
}
