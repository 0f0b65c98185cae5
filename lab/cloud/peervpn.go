package cloud

import (
	"context"
	"fmt"
	"slices"

	"reachgate/framework/cloud"
	"reachgate/lab"
)

// ConnectVPN is the third-party cloud's side of an HA VPN to a gateway the API inserted, played
// by the lab for its third-party side: the third-party VPC's router takes the gateway's tunnels
// and BGP sessions as the API inserts them (lab.APIVPN). A gateway the topology file declares on
// a solution link has its third-party end in the file: nothing to do.
func (c Lab) ConnectVPN(ctx context.Context, v cloud.ThirdPartyVPN) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if s, ok := c.L.SolutionLinkOf("", v.Gateway); ok && c.L.Cloud.PeerVPNs[s.Name] == nil {
		return nil
	}
	g, ok := c.L.Cloud.VPNGateways[v.Gateway]
	n := c.L.Current.Network(v.PeerVPC)
	switch {
	case !ok:
		return fmt.Errorf("third-party vpn %s: vpn gateway %q does not exist (insert it first: the third-party end needs its addresses)", v.Link, v.Gateway)
	case g.Network != v.Network:
		return fmt.Errorf("third-party vpn %s: vpn gateway %q is on network %s, not %s", v.Link, v.Gateway, g.Network, v.Network)
	case n == nil || n.GCP():
		return fmt.Errorf("third-party vpn %s: %q is not a VPC of the lab's third-party cloud", v.Link, v.PeerVPC)
	case n.Router(v.PeerRouter) == nil:
		return fmt.Errorf("third-party vpn %s: VPC %s of the third-party cloud has no router %q", v.Link, v.PeerVPC, v.PeerRouter)
	case c.L.Current.Network(v.Network) == nil || c.L.Current.Network(v.Network).Router(v.Router) == nil:
		return fmt.Errorf("third-party vpn %s: network %s has no router %q", v.Link, v.Network, v.Router)
	case v.Tunnels < 1 || v.Tunnels > 4:
		return fmt.Errorf("third-party vpn %s: %d tunnels; an HA VPN to a FOUR_IPS_REDUNDANCY gateway has 1 to 4", v.Link, v.Tunnels)
	case c.L.Topology.Link(v.Link) != nil:
		return fmt.Errorf("third-party vpn %s: the lab's topology already has a link of that name", v.Link)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		if o, dup := cs.PeerVPNs[v.Link]; dup {
			if o.Gateway == v.Gateway && o.PeerVPC == v.PeerVPC {
				return nil // connected already (a retried call)
			}
			return fmt.Errorf("third-party vpn %s is connected to gateway %s already", v.Link, o.Gateway)
		}
		if cs.PeerVPNs == nil {
			cs.PeerVPNs = map[string]*lab.APIVPN{}
		}
		cs.PeerVPNs[v.Link] = &lab.APIVPN{Link: v.Link, Gateway: v.Gateway, Network: v.Network, Router: v.Router, PeerGateway: v.PeerGateway,
			PeerVPC: v.PeerVPC, PeerRouter: v.PeerRouter, Tunnels: v.Tunnels, Seq: nextSeq(cs.PeerVPNs, func(o *lab.APIVPN) int { return o.Seq })}
		return nil
	})
}

// DisconnectVPN removes the third-party end of link (nothing for a link of the topology file,
// or one already gone with its gateway). Its tunnels must be deleted first, as in the cloud a
// VPN connection in use is.
func (c Lab) DisconnectVPN(ctx context.Context, link string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if c.L.Cloud.PeerVPNs[link] == nil {
		return nil
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		for name, t := range cs.Tunnels {
			if t.Link == link {
				return fmt.Errorf("third-party vpn %s: tunnel %q still uses it (delete the tunnel first)", link, name)
			}
		}
		delete(cs.PeerVPNs, link)
		return nil
	})
}

// insertPairTunnel creates a tunnel of an HA VPN pair: between two gateways the API inserted,
// on VPCs it inserted, interface k meeting the peer's interface k. Once each end has a tunnel
// with a BGP peer on it, the pair joins the two VPCs' routers (lab.PairLink).
func (c Lab) insertPairTunnel(ctx context.Context, t cloud.VpnTunnel) error {
	return c.change(ctx, func(cs *lab.CloudState) error {
		g, ok := cs.VPNGateways[t.VpnGateway]
		if !ok {
			return fmt.Errorf("vpn tunnel %q: vpn gateway %q does not exist (insert it first)", t.Name, t.VpnGateway)
		}
		peer, ok := cs.VPNGateways[t.PeerGcpGateway]
		switch {
		case !ok:
			return fmt.Errorf("vpn tunnel %q: peer vpn gateway %q does not exist (insert it first)", t.Name, t.PeerGcpGateway)
		case t.PeerRegion != "" && peer.Region != t.PeerRegion:
			return fmt.Errorf("vpn tunnel %q: peer vpn gateway %q is in %s, not %s", t.Name, t.PeerGcpGateway, peer.Region, t.PeerRegion)
		case peer.Network == g.Network:
			return fmt.Errorf("vpn tunnel %q: gateways %q and %q are both on network %s (an HA VPN pair joins two VPCs)", t.Name, g.Name, peer.Name, g.Network)
		case t.VpnGatewayInterface < 0 || t.VpnGatewayInterface > 1:
			return fmt.Errorf("vpn tunnel %q: vpnGatewayInterface %d is not 0 or 1 (an HA VPN gateway has two)", t.Name, t.VpnGatewayInterface)
		case t.Region != g.Region:
			return fmt.Errorf("vpn tunnel %q: region %s is not its gateway %q's (%s)", t.Name, t.Region, g.Name, g.Region)
		}
		n := cs.Networks[g.Network]
		if n == nil || !slices.ContainsFunc(n.Routers, func(r lab.APIRouter) bool { return r.Name == t.Router && r.Region == t.Region }) {
			return fmt.Errorf("vpn tunnel %q: network %s has no router %q in %s", t.Name, g.Network, t.Router, t.Region)
		}
		if _, dup := cs.Tunnels[t.Name]; dup {
			return fmt.Errorf("vpn tunnel %q already exists", t.Name)
		}
		seq := 0
		for _, o := range cs.Tunnels {
			seq = max(seq, o.Seq+1)
		}
		if cs.Tunnels == nil {
			cs.Tunnels = map[string]lab.VPNTunnel{}
		}
		cs.Tunnels[t.Name] = lab.VPNTunnel{VpnTunnel: t, Link: lab.PairLink(g.Name, peer.Name), Index: t.VpnGatewayInterface, Seq: seq}
		return nil
	})
}
