package gcp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"reachgate/framework/cloud"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
)

// projectCloud is the run's Cloud as solutions and the gate drive it: in the topology's names.
// The run's VPCs, routers, gateways and tunnels are rg-<run>-<name> in the project, so every
// VPNCloud call maps names in and out; a VPC of the third-party cloud (a bare lab's) is that
// cloud's, read through the lab. GKE's peering keeps the name GKE gave it, which the
// environment's topology carries (describeCluster).
type projectCloud struct {
	*Cloud
	e *Environment
}

var (
	_ provider.Cloud    = projectCloud{}
	_ provider.VPNCloud = projectCloud{}
)

func (p projectCloud) name(n string) string { return ResourceName(p.e.run, n) }

// local is a project name in the topology's names.
func (p projectCloud) local(n string) string { return p.e.topologyName(n) }

// topologyName is a name of the run's project in the topology's names (rg-<run>- removed).
func (e *Environment) topologyName(n string) string {
	return strings.TrimPrefix(n, NamePrefix+e.run+"-")
}

// inProject reports whether network is one of the run's VPCs (a customer GCP VPC of the
// topology that Provision created).
func (p projectCloud) inProject(network string) bool {
	n := p.e.topo.Network(network)
	return n != nil && n.GCP() && n.ManagedBy == ""
}

// labels are the run's labels on what a solution creates.
func (p projectCloud) labels(l map[string]string) map[string]string {
	out := map[string]string{RunLabel: p.e.run}
	for k, v := range l {
		out[k] = v
	}
	return out
}

// outside is the VPNCloud of the third-party cloud for its VPC network: a bare lab's.
func (p projectCloud) outside(network string) (provider.VPNCloud, error) {
	if ca, ok := p.e.lab.(provider.CloudAccess); ok {
		if vc, ok := ca.Cloud().(provider.VPNCloud); ok {
			return vc, nil
		}
	}
	return nil, fmt.Errorf("gcp provider: run %s: network %s is not one of the run's VPCs, and no third-party cloud here reads it", p.e.run, network)
}

// peering is a peering's name in the project: GKE's as GKE named it, the topology's others
// as Provision created them.
func (p projectCloud) peering(name string) string {
	if name == p.e.cluster.PeeringName {
		return name
	}
	if l := p.e.topo.Link(name); l != nil && l.Type == topology.LinkPeering {
		return p.name(name)
	}
	return name
}

// InsertVpnGateway implements provider.VPNCloud.
func (p projectCloud) InsertVpnGateway(ctx context.Context, g cloud.VpnGateway) error {
	g.Name, g.Network, g.Labels, g.Description = p.name(g.Name), p.name(g.Network), p.labels(g.Labels), Description(p.e.run)
	return p.Cloud.InsertVpnGateway(ctx, g)
}

// DeleteVpnGateway implements provider.VPNCloud.
func (p projectCloud) DeleteVpnGateway(ctx context.Context, name string) error {
	return p.Cloud.DeleteVpnGateway(ctx, p.name(name))
}

// InsertExternalVpnGateway implements provider.VPNCloud.
func (p projectCloud) InsertExternalVpnGateway(ctx context.Context, g cloud.ExternalVpnGateway) error {
	g.Name, g.Labels = p.name(g.Name), p.labels(g.Labels)
	return p.Cloud.InsertExternalVpnGateway(ctx, g)
}

// DeleteExternalVpnGateway implements provider.VPNCloud.
func (p projectCloud) DeleteExternalVpnGateway(ctx context.Context, name string) error {
	return p.Cloud.DeleteExternalVpnGateway(ctx, p.name(name))
}

// InsertVpnTunnel implements provider.VPNCloud.
func (p projectCloud) InsertVpnTunnel(ctx context.Context, t cloud.VpnTunnel) error {
	t.Name, t.VpnGateway, t.PeerExternalGateway, t.Router = p.name(t.Name), p.name(t.VpnGateway), p.name(t.PeerExternalGateway), p.name(t.Router)
	t.Labels, t.Description = p.labels(t.Labels), Description(p.e.run)
	return p.Cloud.InsertVpnTunnel(ctx, t)
}

// DeleteVpnTunnel implements provider.VPNCloud.
func (p projectCloud) DeleteVpnTunnel(ctx context.Context, name string) error {
	return p.Cloud.DeleteVpnTunnel(ctx, p.name(name))
}

// GetRouter implements provider.VPNCloud.
func (p projectCloud) GetRouter(ctx context.Context, network, router string) (cloud.Router, error) {
	if !p.inProject(network) {
		vc, err := p.outside(network)
		if err != nil {
			return cloud.Router{}, err
		}
		return vc.GetRouter(ctx, network, router)
	}
	r, err := p.Cloud.GetRouter(ctx, p.name(network), p.name(router))
	if err != nil {
		return r, err
	}
	r.Name, r.Network = router, network
	for i := range r.Interfaces {
		r.Interfaces[i].Name, r.Interfaces[i].LinkedVpnTunnel = p.local(r.Interfaces[i].Name), p.local(r.Interfaces[i].LinkedVpnTunnel)
	}
	for i := range r.BgpPeers {
		bp := &r.BgpPeers[i]
		bp.Name, bp.Tunnel, bp.Interface = p.local(bp.Name), p.local(bp.Tunnel), p.local(bp.Interface)
	}
	return r, nil
}

// PatchRouter implements provider.VPNCloud.
func (p projectCloud) PatchRouter(ctx context.Context, rp cloud.RouterPatch) error {
	if !p.inProject(rp.Network) {
		return fmt.Errorf("gcp provider: run %s: router %s/%s is not one of the run's", p.e.run, rp.Network, rp.Router)
	}
	rp.Network, rp.Router = p.name(rp.Network), p.name(rp.Router)
	if rp.BgpPeers != nil {
		peers := make([]cloud.RouterBgpPeer, 0, len(*rp.BgpPeers))
		for _, bp := range *rp.BgpPeers {
			bp.Name, bp.Tunnel = p.name(bp.Name), p.name(bp.Tunnel)
			if bp.Interface != "" {
				bp.Interface = p.name(bp.Interface)
			}
			peers = append(peers, bp)
		}
		rp.BgpPeers = &peers
	}
	if rp.Interfaces != nil {
		ifs := make([]cloud.RouterInterface, 0, len(*rp.Interfaces))
		for _, i := range *rp.Interfaces {
			i.Name = p.name(i.Name)
			if i.LinkedVpnTunnel != "" {
				i.LinkedVpnTunnel = p.name(i.LinkedVpnTunnel)
			}
			ifs = append(ifs, i)
		}
		rp.Interfaces = &ifs
	}
	return p.Cloud.PatchRouter(ctx, rp)
}

// GetRouterStatus implements provider.VPNCloud: a router of the run's, or of the third-party
// cloud (whose sessions carry the project's names too).
func (p projectCloud) GetRouterStatus(ctx context.Context, network, router string) (cloud.RouterStatus, error) {
	var st cloud.RouterStatus
	var err error
	if p.inProject(network) {
		st, err = p.Cloud.GetRouterStatus(ctx, p.name(network), p.name(router))
	} else {
		var vc provider.VPNCloud
		if vc, err = p.outside(network); err == nil {
			st, err = vc.GetRouterStatus(ctx, network, router)
		}
	}
	st.Name = router
	for i := range st.BGPPeerStatus {
		st.BGPPeerStatus[i].Name = p.local(st.BGPPeerStatus[i].Name)
	}
	return st, err
}

// GetPeering implements provider.VPNCloud.
func (p projectCloud) GetPeering(ctx context.Context, network, name string) (cloud.NetworkPeering, error) {
	pe, err := p.Cloud.GetPeering(ctx, p.name(network), p.peering(name))
	pe.Network, pe.Name = network, name
	return pe, err
}

// UpdatePeering implements provider.VPNCloud.
func (p projectCloud) UpdatePeering(ctx context.Context, pe cloud.NetworkPeering) error {
	pe.Network, pe.Name = p.name(pe.Network), p.peering(pe.Name)
	return p.Cloud.UpdatePeering(ctx, pe)
}

// ListPeeringRoutes implements provider.VPNCloud. GKE's master VPC is in Google's tenant
// project, which the project's API does not read: what it imports over the cluster's peering
// is what the cluster's VPC exports over it (OUTGOING), the list GCP computes for that side.
func (p projectCloud) ListPeeringRoutes(ctx context.Context, network, peering, direction string) ([]cloud.PeeringRoute, error) {
	if c := p.e.topo.Cluster; c != nil && network == c.MasterVPC && peering == p.e.cluster.PeeringName && direction == cloud.Incoming {
		return p.Cloud.ListPeeringRoutes(ctx, p.name(c.VPC), peering, cloud.Outgoing)
	}
	return p.Cloud.ListPeeringRoutes(ctx, p.name(network), p.peering(peering), direction)
}

// GetVpnGatewayStatus implements provider.VPNCloud.
func (p projectCloud) GetVpnGatewayStatus(ctx context.Context, name string) (cloud.VpnGatewayStatus, error) {
	st, err := p.Cloud.GetVpnGatewayStatus(ctx, p.name(name))
	st.Name = name
	for i := range st.Tunnels {
		st.Tunnels[i].Name = p.local(st.Tunnels[i].Name)
	}
	return st, err
}

// ConnectThirdPartyVPN implements provider.ThirdPartyVPN: a bare lab's third-party side
// takes the run's gateway's tunnels. On Google the third-party cloud would be a stand-in VPC
// of the project joined by a second HA VPN gateway, which the provider does not build yet.
func (e *Environment) ConnectThirdPartyVPN(ctx context.Context, v cloud.ThirdPartyVPN) error {
	tp, ok := e.lab.(provider.ThirdPartyVPN)
	if !ok {
		return fmt.Errorf("gcp provider: run %s: the third-party end of HA VPN %s needs a third-party cloud; on Google the provider does not yet build the stand-in (a second HA VPN gateway in a VPC of the project)", e.run, v.Link)
	}
	n := func(s string) string { return ResourceName(e.run, s) }
	v.Link, v.Gateway, v.Network, v.Router, v.PeerGateway = n(v.Link), n(v.Gateway), n(v.Network), n(v.Router), n(v.PeerGateway)
	return tp.ConnectThirdPartyVPN(ctx, v)
}

// DisconnectThirdPartyVPN implements provider.ThirdPartyVPN.
func (e *Environment) DisconnectThirdPartyVPN(ctx context.Context, link string) error {
	tp, ok := e.lab.(provider.ThirdPartyVPN)
	if !ok {
		return nil // nothing was connected
	}
	return tp.DisconnectThirdPartyVPN(ctx, ResourceName(e.run, link))
}

var (
	_ provider.ThirdPartyVPN = (*Environment)(nil)
	_ provider.TunnelFaults  = labProject{}
	_ provider.WANEmulator   = labProject{}
)

// SetTunnelUnderlay implements provider.TunnelFaults against a bare lab, which realizes the
// run's tunnels.
func (p labProject) SetTunnelUnderlay(ctx context.Context, tunnel string, up bool) error {
	tf, ok := p.lab.(provider.TunnelFaults)
	if !ok {
		return fmt.Errorf("gcp provider: run %s: the lab cannot cut tunnels", p.run)
	}
	return tf.SetTunnelUnderlay(ctx, p.ProjectName(tunnel), up)
}

// TunnelsCarrying implements provider.TunnelFaults against a bare lab.
func (p labProject) TunnelsCarrying(ctx context.Context, host string, dst netip.Addr) ([]string, error) {
	tf, ok := p.lab.(provider.TunnelFaults)
	if !ok {
		return nil, fmt.Errorf("gcp provider: run %s: the lab cannot name tunnels", p.run)
	}
	ts, err := tf.TunnelsCarrying(ctx, p.instance(host), dst)
	for i := range ts {
		ts[i] = p.topologyName(ts[i])
	}
	return ts, err
}

// SetImpairment implements provider.WANEmulator against a bare lab: a link of the topology
// is the run's link in the lab.
func (p labProject) SetImpairment(ctx context.Context, link, profile string, overrides ...string) error {
	w, ok := p.lab.(provider.WANEmulator)
	if !ok {
		return fmt.Errorf("gcp provider: run %s: the lab cannot emulate a WAN", p.run)
	}
	return w.SetImpairment(ctx, p.ProjectName(link), profile, overrides...)
}
