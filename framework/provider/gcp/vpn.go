package gcp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
)

// The Cloud Router and peering half of provider.VPNCloud, on routers and networks.

// routerRegion finds the region of the network's router (routers.aggregatedList): the neutral
// interface names a router by network and name, compute by region and name.
func (c *Cloud) routerRegion(ctx context.Context, network, router string) (string, *computepb.Router, error) {
	it := c.routers.AggregatedList(ctx, &computepb.AggregatedListRoutersRequest{Project: c.cfg.Project,
		Filter: proto.String(fmt.Sprintf("name = %q", router))})
	for {
		pair, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return "", nil, wrap("list routers", err)
		}
		for _, r := range pair.Value.GetRouters() {
			if r.GetName() == router && lastSegment(r.GetNetwork()) == network {
				c.routerRegions.Store(network+"/"+router, lastSegment(r.GetRegion()))
				return lastSegment(r.GetRegion()), r, nil
			}
		}
	}
	return "", nil, &APIError{Call: "find router " + network + "/" + router, Code: 404, err: fmt.Errorf("no router %s in network %s", router, network)}
}

// regionOf is the region of the network's router, found once (routerRegion) and then cached.
func (c *Cloud) regionOf(ctx context.Context, network, router string) (string, error) {
	if r, ok := c.routerRegions.Load(network + "/" + router); ok {
		return r.(string), nil
	}
	region, _, err := c.routerRegion(ctx, network, router)
	return region, err
}

// GetRouter implements provider.VPNCloud with routers.get.
func (c *Cloud) GetRouter(ctx context.Context, network, router string) (cloud.Router, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	region, r, err := c.routerRegion(ctx, network, router)
	if err != nil {
		return cloud.Router{}, err
	}
	return routerOf(region, r)
}

func routerOf(region string, r *computepb.Router) (cloud.Router, error) {
	b := r.GetBgp()
	out := cloud.Router{Name: r.GetName(), Network: lastSegment(r.GetNetwork()), Region: region, ASN: b.GetAsn(),
		Advertise: topology.Advertisement{Mode: b.GetAdvertiseMode(), Groups: b.GetAdvertisedGroups()}}
	for _, ar := range b.GetAdvertisedIpRanges() {
		p, err := netip.ParsePrefix(ar.GetRange())
		if err != nil {
			return out, fmt.Errorf("router %s: advertised range %q: %w", r.GetName(), ar.GetRange(), err)
		}
		out.Advertise.Ranges = append(out.Advertise.Ranges, p)
	}
	tunnels := map[string]string{}
	for _, i := range r.GetInterfaces() {
		tunnels[i.GetName()] = lastSegment(i.GetLinkedVpnTunnel())
		ri := cloud.RouterInterface{Name: i.GetName(), LinkedVpnTunnel: lastSegment(i.GetLinkedVpnTunnel())}
		if p, err := netip.ParsePrefix(i.GetIpRange()); err == nil {
			ri.IPRange = p
		}
		out.Interfaces = append(out.Interfaces, ri)
	}
	for _, p := range r.GetBgpPeers() {
		ip, _ := netip.ParseAddr(p.GetIpAddress())
		peer, _ := netip.ParseAddr(p.GetPeerIpAddress())
		out.BgpPeers = append(out.BgpPeers, cloud.RouterBgpPeer{Name: p.GetName(), Tunnel: tunnels[p.GetInterfaceName()], Interface: p.GetInterfaceName(),
			IPAddress: ip, PeerIPAddress: peer, PeerAsn: p.GetPeerAsn(), AdvertisedRoutePriority: p.GetAdvertisedRoutePriority()})
	}
	return out, nil
}

// PatchRouter implements provider.VPNCloud with routers.patch: the advertisement, and the BGP
// peers each on an interface linked to its tunnel (a /30 of the link-local range).
func (c *Cloud) PatchRouter(ctx context.Context, p cloud.RouterPatch) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	region, cur, err := c.routerRegion(ctx, p.Network, p.Router)
	if err != nil {
		return err
	}
	res := &computepb.Router{}
	if a := p.Advertise; a != nil {
		res.Bgp = &computepb.RouterBgp{AdvertiseMode: proto.String(a.Mode), AdvertisedGroups: slices.Clone(a.Groups)}
		for _, r := range a.Ranges {
			res.Bgp.AdvertisedIpRanges = append(res.Bgp.AdvertisedIpRanges, &computepb.RouterAdvertisedIpRange{Range: proto.String(r.String())})
		}
	}
	if p.BgpPeers == nil && p.Interfaces == nil {
		req := &computepb.PatchRouterRequest{Project: c.cfg.Project, Region: region, Router: p.Router, RouterResource: res, RequestId: requestID()}
		var op *compute.Operation
		if err := retry(ctx, func() (err error) { op, err = c.routers.Patch(ctx, req); return err }); err != nil {
			return wrap("patch router "+p.Router, err)
		}
		return c.wait(ctx, region, op)
	}
	// Peers and interfaces change with routers.update (PUT) of the whole router: a PATCH
	// cannot clear them, as the client leaves empty lists out of the body.
	full := proto.Clone(cur).(*computepb.Router)
	if res.Bgp != nil {
		full.Bgp = mergeBgp(full.GetBgp(), res.Bgp)
	}
	if p.BgpPeers != nil {
		full.BgpPeers, full.Interfaces = nil, nil
		for _, bp := range *p.BgpPeers {
			ifName := bp.Interface
			if ifName == "" {
				ifName = "if-" + bp.Name
			}
			full.Interfaces = append(full.Interfaces, &computepb.RouterInterface{Name: proto.String(ifName),
				LinkedVpnTunnel: proto.String(fmt.Sprintf("projects/%s/regions/%s/vpnTunnels/%s", c.cfg.Project, region, bp.Tunnel)),
				IpRange:         proto.String(netip.PrefixFrom(bp.IPAddress, 30).String())})
			full.BgpPeers = append(full.BgpPeers, &computepb.RouterBgpPeer{Name: proto.String(bp.Name), InterfaceName: proto.String(ifName),
				IpAddress: proto.String(bp.IPAddress.String()), PeerIpAddress: proto.String(bp.PeerIPAddress.String()),
				PeerAsn: proto.Uint32(bp.PeerAsn), AdvertisedRoutePriority: proto.Uint32(bp.AdvertisedRoutePriority)})
		}
	}
	if p.Interfaces != nil {
		full.Interfaces = nil
		for _, i := range *p.Interfaces {
			ri := &computepb.RouterInterface{Name: proto.String(i.Name)}
			if i.IPRange.IsValid() {
				ri.IpRange = proto.String(i.IPRange.String())
			}
			if i.LinkedVpnTunnel != "" {
				ri.LinkedVpnTunnel = proto.String(fmt.Sprintf("projects/%s/regions/%s/vpnTunnels/%s", c.cfg.Project, region, i.LinkedVpnTunnel))
			}
			full.Interfaces = append(full.Interfaces, ri)
		}
	}
	req := &computepb.UpdateRouterRequest{Project: c.cfg.Project, Region: region, Router: p.Router, RouterResource: full, RequestId: requestID()}
	var op *compute.Operation
	if err := retry(ctx, func() (err error) { op, err = c.routers.Update(ctx, req); return err }); err != nil {
		return wrap("update router "+p.Router, err)
	}
	return c.wait(ctx, region, op)
}

// mergeBgp is cur with the advertisement of patch (the ASN and timers stay).
func mergeBgp(cur, patch *computepb.RouterBgp) *computepb.RouterBgp {
	out := proto.Clone(cur).(*computepb.RouterBgp)
	if out == nil {
		out = &computepb.RouterBgp{}
	}
	out.AdvertiseMode, out.AdvertisedGroups, out.AdvertisedIpRanges = patch.AdvertiseMode, patch.AdvertisedGroups, patch.AdvertisedIpRanges
	return out
}

// GetRouterStatus implements provider.VPNCloud with routers.getRouterStatus; the best routes
// GCP lists once per next hop are joined per range.
func (c *Cloud) GetRouterStatus(ctx context.Context, network, router string) (cloud.RouterStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	region, err := c.regionOf(ctx, network, router)
	if err != nil {
		return cloud.RouterStatus{}, err
	}
	var res *computepb.RouterStatusResponse
	if err := retry(ctx, func() (err error) {
		res, err = c.routers.GetRouterStatus(ctx, &computepb.GetRouterStatusRouterRequest{Project: c.cfg.Project, Region: region, Router: router})
		return err
	}); err != nil {
		if IsNotFound(err) {
			c.routerRegions.Delete(network + "/" + router) // gone, or made again elsewhere
		}
		return cloud.RouterStatus{}, wrap("get router status "+router, err)
	}
	st := cloud.RouterStatus{Name: router, Updated: time.Now()}
	for _, br := range res.GetResult().GetBestRoutes() {
		i := slices.IndexFunc(st.BestRoutes, func(b cloud.BestRoute) bool { return b.DestRange == br.GetDestRange() })
		if i < 0 {
			st.BestRoutes = append(st.BestRoutes, cloud.BestRoute{DestRange: br.GetDestRange(), Priority: br.GetPriority()})
			i = len(st.BestRoutes) - 1
		}
		st.BestRoutes[i].NextHops = append(st.BestRoutes[i].NextHops, br.GetNextHopIp())
	}
	for _, p := range res.GetResult().GetBgpPeerStatus() {
		ps := cloud.PeerStatus{Name: p.GetName(), IPAddress: p.GetIpAddress(), PeerIPAddress: p.GetPeerIpAddress(), Status: p.GetStatus(),
			State: p.GetState(), NumLearnedRoutes: int(p.GetNumLearnedRoutes()), Uptime: p.GetUptime(), UptimeSeconds: p.GetUptimeSeconds()}
		for _, a := range p.GetAdvertisedRoutes() {
			ps.AdvertisedRoutes = append(ps.AdvertisedRoutes, cloud.AdvertisedRoute{DestRange: a.GetDestRange(), NextHopIP: a.GetNextHopIp(), Priority: a.GetPriority()})
		}
		st.BGPPeerStatus = append(st.BGPPeerStatus, ps)
	}
	return st, nil
}

// GetPeering implements provider.VPNCloud with networks.get.
func (c *Cloud) GetPeering(ctx context.Context, network, name string) (cloud.NetworkPeering, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var n *computepb.Network
	if err := retry(ctx, func() (err error) {
		n, err = c.networks.Get(ctx, &computepb.GetNetworkRequest{Project: c.cfg.Project, Network: network})
		return err
	}); err != nil {
		return cloud.NetworkPeering{}, wrap("get network "+network, err)
	}
	for _, p := range n.GetPeerings() {
		if p.GetName() == name {
			return cloud.NetworkPeering{Network: network, Name: name, ExportCustomRoutes: p.GetExportCustomRoutes(), ImportCustomRoutes: p.GetImportCustomRoutes()}, nil
		}
	}
	return cloud.NetworkPeering{}, &APIError{Call: "get peering " + name, Code: 404, err: fmt.Errorf("network %s has no peering %q", network, name)}
}

// UpdatePeering implements provider.VPNCloud with networks.updatePeering (PATCH).
func (c *Cloud) UpdatePeering(ctx context.Context, p cloud.NetworkPeering) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := &computepb.UpdatePeeringNetworkRequest{Project: c.cfg.Project, Network: p.Network, RequestId: requestID(),
		NetworksUpdatePeeringRequestResource: &computepb.NetworksUpdatePeeringRequest{NetworkPeering: &computepb.NetworkPeering{
			Name: proto.String(p.Name), ExportCustomRoutes: proto.Bool(p.ExportCustomRoutes), ImportCustomRoutes: proto.Bool(p.ImportCustomRoutes)}}}
	var op *compute.Operation
	if err := retry(ctx, func() (err error) { op, err = c.networks.UpdatePeering(ctx, req); return err }); err != nil {
		return wrap("update peering "+p.Name, err)
	}
	return c.wait(ctx, "", op)
}

// ListPeeringRoutes implements provider.VPNCloud with networks.listPeeringRoutes.
func (c *Cloud) ListPeeringRoutes(ctx context.Context, network, peering, direction string) ([]cloud.PeeringRoute, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	it := c.networks.ListPeeringRoutes(ctx, &computepb.ListPeeringRoutesNetworksRequest{Project: c.cfg.Project, Network: network,
		PeeringName: proto.String(peering), Direction: proto.String(direction), Region: proto.String(topology.RegionOf(c.cfg.Location))})
	var out []cloud.PeeringRoute
	for {
		r, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, wrap("list peering routes of "+peering, err)
		}
		out = append(out, cloud.PeeringRoute{DestRange: r.GetDestRange(), Type: r.GetType(), Imported: r.GetImported(),
			NextHopRegion: r.GetNextHopRegion(), Priority: int(r.GetPriority())})
	}
}

// vpnRegion is the region of the HA VPN resources that the neutral interface deletes by name:
// the cluster's region, where the bgp-export solution creates them.
func (c *Cloud) vpnRegion() string { return topology.RegionOf(c.cfg.Location) }

// InsertVpnGateway implements provider.VPNCloud with vpnGateways.insert.
func (c *Cloud) InsertVpnGateway(ctx context.Context, g cloud.VpnGateway) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := &computepb.InsertVpnGatewayRequest{Project: c.cfg.Project, Region: g.Region, RequestId: requestID(),
		VpnGatewayResource: &computepb.VpnGateway{Name: proto.String(g.Name), Labels: g.Labels, Description: proto.String(g.Description),
			Network: proto.String(fmt.Sprintf("projects/%s/global/networks/%s", c.cfg.Project, g.Network))}}
	return c.do(ctx, g.Region, "insert vpn gateway "+g.Name, func() (*compute.Operation, error) { return c.vpnGateways.Insert(ctx, req) })
}

// DeleteVpnGateway implements provider.VPNCloud with vpnGateways.delete.
func (c *Cloud) DeleteVpnGateway(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := &computepb.DeleteVpnGatewayRequest{Project: c.cfg.Project, Region: c.vpnRegion(), VpnGateway: name, RequestId: requestID()}
	return c.do(ctx, c.vpnRegion(), "delete vpn gateway "+name, func() (*compute.Operation, error) { return c.vpnGateways.Delete(ctx, req) })
}

// InsertExternalVpnGateway implements provider.VPNCloud with externalVpnGateways.insert.
func (c *Cloud) InsertExternalVpnGateway(ctx context.Context, g cloud.ExternalVpnGateway) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := &computepb.InsertExternalVpnGatewayRequest{Project: c.cfg.Project, RequestId: requestID(),
		ExternalVpnGatewayResource: &computepb.ExternalVpnGateway{Name: proto.String(g.Name), RedundancyType: proto.String(g.RedundancyType), Labels: g.Labels}}
	return c.do(ctx, "", "insert external vpn gateway "+g.Name, func() (*compute.Operation, error) { return c.externalGateways.Insert(ctx, req) })
}

// DeleteExternalVpnGateway implements provider.VPNCloud with externalVpnGateways.delete.
func (c *Cloud) DeleteExternalVpnGateway(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := &computepb.DeleteExternalVpnGatewayRequest{Project: c.cfg.Project, ExternalVpnGateway: name, RequestId: requestID()}
	return c.do(ctx, "", "delete external vpn gateway "+name, func() (*compute.Operation, error) { return c.externalGateways.Delete(ctx, req) })
}

// InsertVpnTunnel implements provider.VPNCloud with vpnTunnels.insert. The shared secret is
// a fresh random one: the lab keys its tunnels itself, and GCP requires one.
func (c *Cloud) InsertVpnTunnel(ctx context.Context, t cloud.VpnTunnel) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ref := func(scope, coll, name string) *string {
		return proto.String(fmt.Sprintf("projects/%s/%s/%s/%s", c.cfg.Project, scope, coll, name))
	}
	secret := t.SharedSecret
	if secret == "" {
		secret = uuid.NewString()
	}
	res := &computepb.VpnTunnel{Name: proto.String(t.Name), IkeVersion: proto.Int32(2), Labels: t.Labels,
		VpnGateway: ref("regions/"+t.Region, "vpnGateways", t.VpnGateway), VpnGatewayInterface: proto.Int32(int32(t.VpnGatewayInterface)),
		Router: ref("regions/"+t.Region, "routers", t.Router), SharedSecret: proto.String(secret), Description: proto.String(t.Description)}
	if t.PeerGcpGateway != "" {
		res.PeerGcpGateway = ref("regions/"+t.PeerRegion, "vpnGateways", t.PeerGcpGateway)
	} else {
		res.PeerExternalGateway = ref("global", "externalVpnGateways", t.PeerExternalGateway)
		res.PeerExternalGatewayInterface = proto.Int32(int32(t.PeerExternalGatewayInterface))
	}
	req := &computepb.InsertVpnTunnelRequest{Project: c.cfg.Project, Region: t.Region, RequestId: requestID(), VpnTunnelResource: res}
	return c.do(ctx, t.Region, "insert vpn tunnel "+t.Name, func() (*compute.Operation, error) { return c.vpnTunnels.Insert(ctx, req) })
}

// DeleteVpnTunnel implements provider.VPNCloud with vpnTunnels.delete.
func (c *Cloud) DeleteVpnTunnel(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := &computepb.DeleteVpnTunnelRequest{Project: c.cfg.Project, Region: c.vpnRegion(), VpnTunnel: name, RequestId: requestID()}
	return c.do(ctx, c.vpnRegion(), "delete vpn tunnel "+name, func() (*compute.Operation, error) { return c.vpnTunnels.Delete(ctx, req) })
}

// do sends a mutation (retried on 429 and 5xx; its RequestId makes a retry safe) and waits for
// its operation, regional or ("") global.
func (c *Cloud) do(ctx context.Context, region, call string, send func() (*compute.Operation, error)) error {
	var op *compute.Operation
	if err := retry(ctx, func() (err error) { op, err = send(); return err }); err != nil {
		return wrap(call, err)
	}
	return c.wait(ctx, region, op)
}

// GetVpnGatewayStatus implements provider.VPNCloud with vpnGateways.getStatus (each peer
// gateway's redundancy and tunnels) and vpnTunnels.get for each tunnel's status.
func (c *Cloud) GetVpnGatewayStatus(ctx context.Context, name string) (cloud.VpnGatewayStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	region := c.vpnRegion()
	var res *computepb.VpnGatewaysGetStatusResponse
	if err := retry(ctx, func() (err error) {
		res, err = c.vpnGateways.GetStatus(ctx, &computepb.GetStatusVpnGatewayRequest{Project: c.cfg.Project, Region: region, VpnGateway: name})
		return err
	}); err != nil {
		return cloud.VpnGatewayStatus{}, wrap("get vpn gateway status "+name, err)
	}
	out := cloud.VpnGatewayStatus{Name: name, Redundancy: cloud.RedundancyNotMet}
	conns := res.GetResult().GetVpnConnections()
	met := len(conns) > 0
	for _, vc := range conns {
		met = met && vc.GetState().GetState() == cloud.RedundancyMet
		for _, t := range vc.GetTunnels() {
			tn := lastSegment(t.GetTunnelUrl())
			ts := cloud.TunnelStatus{Name: tn, VpnGatewayInterface: int(t.GetLocalGatewayInterface()), PeerInterface: int(t.GetPeerGatewayInterface())}
			var got *computepb.VpnTunnel
			if err := retry(ctx, func() (err error) {
				got, err = c.vpnTunnels.Get(ctx, &computepb.GetVpnTunnelRequest{Project: c.cfg.Project, Region: region, VpnTunnel: tn})
				return err
			}); err != nil {
				return out, wrap("get vpn tunnel "+tn, err)
			}
			ts.Status = got.GetStatus()
			out.Tunnels = append(out.Tunnels, ts)
		}
	}
	if met {
		out.Redundancy = cloud.RedundancyMet
	}
	return out, nil
}
