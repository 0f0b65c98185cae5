package gcp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
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
				return lastSegment(r.GetRegion()), r, nil
			}
		}
	}
	return "", nil, &APIError{Call: "find router " + network + "/" + router, Code: 404, err: fmt.Errorf("no router %s in network %s", router, network)}
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
	}
	for _, p := range r.GetBgpPeers() {
		ip, _ := netip.ParseAddr(p.GetIpAddress())
		peer, _ := netip.ParseAddr(p.GetPeerIpAddress())
		out.BgpPeers = append(out.BgpPeers, cloud.RouterBgpPeer{Name: p.GetName(), Tunnel: tunnels[p.GetInterfaceName()],
			IPAddress: ip, PeerIPAddress: peer, PeerAsn: p.GetPeerAsn(), AdvertisedRoutePriority: p.GetAdvertisedRoutePriority()})
	}
	return out, nil
}

// PatchRouter implements provider.VPNCloud with routers.patch: the advertisement, and the BGP
// peers each on an interface linked to its tunnel (a /30 of the link-local range).
func (c *Cloud) PatchRouter(ctx context.Context, p cloud.RouterPatch) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	region, _, err := c.routerRegion(ctx, p.Network, p.Router)
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
	if p.BgpPeers != nil {
		res.BgpPeers, res.Interfaces = []*computepb.RouterBgpPeer{}, []*computepb.RouterInterface{}
		for _, bp := range *p.BgpPeers {
			ifName := "if-" + bp.Name
			res.Interfaces = append(res.Interfaces, &computepb.RouterInterface{Name: proto.String(ifName),
				LinkedVpnTunnel: proto.String(fmt.Sprintf("projects/%s/regions/%s/vpnTunnels/%s", c.cfg.Project, region, bp.Tunnel)),
				IpRange:         proto.String(netip.PrefixFrom(bp.IPAddress, 30).String())})
			res.BgpPeers = append(res.BgpPeers, &computepb.RouterBgpPeer{Name: proto.String(bp.Name), InterfaceName: proto.String(ifName),
				IpAddress: proto.String(bp.IPAddress.String()), PeerIpAddress: proto.String(bp.PeerIPAddress.String()),
				PeerAsn: proto.Uint32(bp.PeerAsn), AdvertisedRoutePriority: proto.Uint32(bp.AdvertisedRoutePriority)})
		}
	}
	req := &computepb.PatchRouterRequest{Project: c.cfg.Project, Region: region, Router: p.Router, RouterResource: res, RequestId: requestID()}
	var op *compute.Operation
	if err := retry(ctx, func() (err error) { op, err = c.routers.Patch(ctx, req); return err }); err != nil {
		return wrap("patch router "+p.Router, err)
	}
	return c.wait(ctx, region, op)
}

// GetRouterStatus implements provider.VPNCloud with routers.getRouterStatus; the best routes
// GCP lists once per next hop are joined per range.
func (c *Cloud) GetRouterStatus(ctx context.Context, network, router string) (cloud.RouterStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	region, _, err := c.routerRegion(ctx, network, router)
	if err != nil {
		return cloud.RouterStatus{}, err
	}
	var res *computepb.RouterStatusResponse
	if err := retry(ctx, func() (err error) {
		res, err = c.routers.GetRouterStatus(ctx, &computepb.GetRouterStatusRouterRequest{Project: c.cfg.Project, Region: region, Router: router})
		return err
	}); err != nil {
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
		PeeringName: proto.String(peering), Direction: proto.String(direction), Region: proto.String(regionOf(c.cfg.Location))})
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
