package gcpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab"
)

// routers serves routers.list, get, insert, patch, delete and getRouterStatus of the lab's
// Cloud Routers (the routers of its customer GCP VPCs).
func (s *Server) routers(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	if len(rest) == 0 && r.Method == http.MethodGet {
		s.listRouters(w, r, region)
		return
	}
	if len(rest) == 0 && r.Method == http.MethodPost {
		s.insertRouter(w, r, region)
		return
	}
	if len(rest) == 0 || len(rest) > 2 {
		writeError(w, http.StatusNotFound, "notFound", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	network, ok := s.routerNetwork(region, rest[0])
	if !ok {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s/regions/%s/routers/%s' was not found", s.project, region, rest[0]))
		return
	}
	name := rest[0]
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		rt, err := s.cloud.GetRouter(r.Context(), network, name)
		if err != nil {
			writeError(w, http.StatusNotFound, "notFound", err.Error())
			return
		}
		writeProto(w, http.StatusOK, s.routerResource(rt))
	case len(rest) == 1 && (r.Method == http.MethodPatch || r.Method == http.MethodPut):
		s.patchRouter(w, r, region, network, name)
	case len(rest) == 1 && r.Method == http.MethodDelete:
		writeProto(w, http.StatusOK, s.startOperation("regions/"+region, "delete", s.link("regions", region, "routers", name),
			s.forgotten("regions/"+region+"/routers/"+name, func() error { return s.cloud.DeleteRouter(context.Background(), region, name) })))
	case len(rest) == 2 && rest[1] == "getRouterStatus" && r.Method == http.MethodGet:
		st, err := s.cloud.GetRouterStatus(r.Context(), network, name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internalError", err.Error())
			return
		}
		writeProto(w, http.StatusOK, &computepb.RouterStatusResponse{Kind: proto.String("compute#routerStatusResponse"), Result: s.routerStatus(network, st)})
	default:
		writeError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method+" is not allowed on "+r.URL.Path)
	}
}

// routerNetwork finds the GCP VPC that has a Cloud Router of that name in the region.
func (s *Server) routerNetwork(region, name string) (string, bool) {
	for _, n := range s.cloud.L.Current.Networks {
		if rt := n.Router(name); n.GCP() && rt != nil && rt.Region == region {
			return n.Name, true
		}
	}
	return "", false
}

// listRouters serves routers.list: the Cloud Routers of one region.
func (s *Server) listRouters(w http.ResponseWriter, r *http.Request, region string) {
	out := &computepb.RouterList{Kind: proto.String("compute#routerList"), Id: proto.String("projects/" + s.project + "/regions/" + region + "/routers"),
		SelfLink: proto.String(s.link("regions", region, "routers"))}
	for _, n := range s.cloud.L.Current.Networks {
		if !n.GCP() || n.ManagedBy != "" {
			continue
		}
		for _, cr := range n.Routers {
			if cr.Region != region {
				continue
			}
			if rt, err := s.cloud.GetRouter(r.Context(), n.Name, cr.Name); err == nil {
				out.Items = append(out.Items, s.routerResource(rt))
			}
		}
	}
	writeProto(w, http.StatusOK, out)
}

// aggregatedRouters serves routers.aggregatedList: every Cloud Router, by region.
func (s *Server) aggregatedRouters(w http.ResponseWriter, r *http.Request) {
	out := &computepb.RouterAggregatedList{Kind: proto.String("compute#routerAggregatedList"), Id: proto.String("projects/" + s.project + "/aggregated/routers"),
		SelfLink: proto.String(s.link("aggregated", "routers")), Items: map[string]*computepb.RoutersScopedList{}}
	for _, n := range s.cloud.L.Current.Networks {
		if !n.GCP() || n.ManagedBy != "" {
			continue
		}
		for _, cr := range n.Routers {
			rt, err := s.cloud.GetRouter(r.Context(), n.Name, cr.Name)
			if err != nil {
				continue
			}
			key := "regions/" + cr.Region
			if out.Items[key] == nil {
				out.Items[key] = &computepb.RoutersScopedList{}
			}
			out.Items[key].Routers = append(out.Items[key].Routers, s.routerResource(rt))
		}
	}
	writeProto(w, http.StatusOK, out)
}

// routerResource is the Router resource: bgp (asn, advertisement), one interface per tunnel
// with a BGP peer, and the peers on those interfaces.
func (s *Server) routerResource(rt cloud.Router) *computepb.Router {
	adv := &computepb.RouterBgp{Asn: proto.Uint32(rt.ASN), AdvertiseMode: proto.String(orDefault(rt.Advertise.Mode, topology.AdvertiseDefault)),
		AdvertisedGroups: rt.Advertise.Groups}
	for _, p := range rt.Advertise.Ranges {
		adv.AdvertisedIpRanges = append(adv.AdvertisedIpRanges, &computepb.RouterAdvertisedIpRange{Range: proto.String(p.String())})
	}
	out := &computepb.Router{Kind: proto.String("compute#router"), Name: proto.String(rt.Name), Id: proto.Uint64(stableID(rt.Region + "/router/" + rt.Name)),
		Network: proto.String(s.link("global", "networks", rt.Network)), Region: proto.String(s.link("regions", rt.Region)),
		SelfLink: proto.String(s.link("regions", rt.Region, "routers", rt.Name)), Bgp: adv}
	out.CreationTimestamp, out.Description = s.stamp("regions/" + rt.Region + "/routers/" + rt.Name)
	for _, i := range rt.Interfaces {
		ri := &computepb.RouterInterface{Name: proto.String(i.Name)}
		if i.IPRange.IsValid() {
			ri.IpRange = proto.String(i.IPRange.String())
		}
		if i.LinkedVpnTunnel != "" {
			ri.LinkedVpnTunnel = proto.String(s.link("regions", rt.Region, "vpnTunnels", i.LinkedVpnTunnel))
		}
		out.Interfaces = append(out.Interfaces, ri)
	}
	for _, p := range rt.BgpPeers {
		ifName := peerInterface(p)
		if !slices.ContainsFunc(rt.Interfaces, func(i cloud.RouterInterface) bool { return i.Name == ifName }) {
			out.Interfaces = append(out.Interfaces, &computepb.RouterInterface{Name: proto.String(ifName),
				LinkedVpnTunnel: proto.String(s.link("regions", rt.Region, "vpnTunnels", p.Tunnel)),
				IpRange:         proto.String(netip.PrefixFrom(p.IPAddress, 30).String())})
		}
		out.BgpPeers = append(out.BgpPeers, &computepb.RouterBgpPeer{Name: proto.String(p.Name), InterfaceName: proto.String(ifName),
			IpAddress: proto.String(p.IPAddress.String()), PeerIpAddress: proto.String(p.PeerIPAddress.String()),
			PeerAsn: proto.Uint32(p.PeerAsn), AdvertisedRoutePriority: proto.Uint32(p.AdvertisedRoutePriority)})
	}
	return out
}

// patchRouter applies routers.patch: a present bgp block replaces the advertisement, present
// bgpPeers replace the peers (each on an interface linked to a tunnel, from the request or the
// router as it is). Fields the lab does not model are ignored, as gcloud sends the whole router.
//
// routers.update (PUT) is the same with the whole router: lists it leaves out are empty, so
// it clears the peers and interfaces a PATCH from a client that omits empty lists cannot.
func (s *Server) patchRouter(w http.ResponseWriter, r *http.Request, region, network, name string) {
	full := r.Method == http.MethodPut
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	var in computepb.Router
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &in); err != nil {
		writeError(w, http.StatusBadRequest, "parseError", "Invalid JSON payload received. "+err.Error())
		return
	}
	patch := cloud.RouterPatch{Network: network, Router: name}
	if b := in.GetBgp(); b != nil && b.AdvertiseMode != nil {
		a := topology.Advertisement{Mode: b.GetAdvertiseMode(), Groups: b.GetAdvertisedGroups()}
		for _, ar := range b.GetAdvertisedIpRanges() {
			p, err := netip.ParsePrefix(ar.GetRange())
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.bgp.advertisedIpRanges': '%s'.", ar.GetRange()))
				return
			}
			a.Ranges = append(a.Ranges, p)
		}
		patch.Advertise = &a
	}
	cur, err := s.cloud.GetRouter(r.Context(), network, name)
	if err != nil {
		writeError(w, http.StatusNotFound, "notFound", err.Error())
		return
	}
	// The interfaces a peer may name: the router's, and those of the request, which replace
	// them when present (routers add-interface sends the whole router with one more).
	ifaces := map[string]cloud.RouterInterface{}
	for _, i := range cur.Interfaces {
		ifaces[i.Name] = i
	}
	for _, p := range cur.BgpPeers {
		if _, ok := ifaces[peerInterface(p)]; !ok {
			ifaces[peerInterface(p)] = cloud.RouterInterface{Name: peerInterface(p), IPRange: netip.PrefixFrom(p.IPAddress, 30), LinkedVpnTunnel: p.Tunnel}
		}
	}
	if full || strings.Contains(string(data), `"interfaces"`) {
		list := []cloud.RouterInterface{}
		for _, i := range in.GetInterfaces() {
			ri := cloud.RouterInterface{Name: i.GetName(), LinkedVpnTunnel: lastSegment(i.GetLinkedVpnTunnel())}
			if i.GetIpRange() != "" {
				if ri.IPRange, err = netip.ParsePrefix(i.GetIpRange()); err != nil {
					writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.interfaces.ipRange': '%s'.", i.GetIpRange()))
					return
				}
			}
			ifaces[ri.Name] = ri
			list = append(list, ri)
		}
		patch.Interfaces = &list
	}
	if full || strings.Contains(string(data), `"bgpPeers"`) {
		peers := []cloud.RouterBgpPeer{}
		for _, p := range in.GetBgpPeers() {
			i, ok := ifaces[p.GetInterfaceName()]
			ip, err1 := netip.ParseAddr(p.GetIpAddress())
			if p.GetIpAddress() == "" && i.IPRange.IsValid() {
				// GCP: the peer's ipAddress defaults to the interface's address.
				ip, err1 = i.IPRange.Addr(), nil
			}
			peer, err2 := netip.ParseAddr(p.GetPeerIpAddress())
			if err1 != nil || err2 != nil || !ok || i.LinkedVpnTunnel == "" {
				writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.bgpPeers': bgp peer %q needs ipAddress, peerIpAddress and an interface linked to a VPN tunnel.", p.GetName()))
				return
			}
			priority := p.GetAdvertisedRoutePriority()
			if p.AdvertisedRoutePriority == nil {
				priority = 100
			}
			peers = append(peers, cloud.RouterBgpPeer{Name: p.GetName(), Tunnel: i.LinkedVpnTunnel, Interface: i.Name, IPAddress: ip, PeerIPAddress: peer,
				PeerAsn: p.GetPeerAsn(), AdvertisedRoutePriority: priority})
		}
		patch.BgpPeers = &peers
	}
	kind := "patch"
	if full {
		kind = "update"
	}
	op := s.startOperation("regions/"+region, kind, s.link("regions", region, "routers", name), func() error {
		return s.cloud.PatchRouter(context.Background(), patch)
	})
	writeProto(w, http.StatusOK, op)
}

// routerStatus is routers.getRouterStatus's result: one best route per next hop, as GCP lists them.
func (s *Server) routerStatus(network string, st cloud.RouterStatus) *computepb.RouterStatus {
	out := &computepb.RouterStatus{Network: proto.String(s.link("global", "networks", network))}
	for _, br := range st.BestRoutes {
		for _, nh := range br.NextHops {
			out.BestRoutes = append(out.BestRoutes, &computepb.Route{Kind: proto.String("compute#route"), DestRange: proto.String(br.DestRange),
				NextHopIp: proto.String(nh), Priority: proto.Uint32(br.Priority), Network: proto.String(s.link("global", "networks", network))})
		}
	}
	for _, p := range st.BGPPeerStatus {
		ps := &computepb.RouterStatusBgpPeerStatus{Name: proto.String(p.Name), IpAddress: proto.String(p.IPAddress),
			PeerIpAddress: proto.String(p.PeerIPAddress), Status: proto.String(p.Status), State: proto.String(p.State),
			NumLearnedRoutes: proto.Uint32(uint32(p.NumLearnedRoutes)), Uptime: proto.String(p.Uptime), UptimeSeconds: proto.String(p.UptimeSeconds)}
		for _, a := range p.AdvertisedRoutes {
			ps.AdvertisedRoutes = append(ps.AdvertisedRoutes, &computepb.Route{DestRange: proto.String(a.DestRange), NextHopIp: proto.String(a.NextHopIP), Priority: proto.Uint32(a.Priority)})
		}
		out.BgpPeerStatus = append(out.BgpPeerStatus, ps)
	}
	return out
}

// peerInterface is the router interface a BGP peer runs on.
func peerInterface(p cloud.RouterBgpPeer) string {
	if p.Interface != "" {
		return p.Interface
	}
	return "if-" + p.Name
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// insertRouter serves routers.insert: a Cloud Router (name, network, bgp: asn and the
// advertisement) in a VPC the API inserted.
func (s *Server) insertRouter(w http.ResponseWriter, r *http.Request, region string) {
	var in computepb.Router
	if !decode(w, r, &in) {
		return
	}
	if in.GetName() == "" || in.GetNetwork() == "" {
		writeError(w, http.StatusBadRequest, "required", "Required fields 'resource.name' and 'resource.network' not specified")
		return
	}
	rt := lab.APIRouter{Name: in.GetName(), Region: region, ASN: in.GetBgp().GetAsn(),
		Advertise: topology.Advertisement{Mode: orDefault(in.GetBgp().GetAdvertiseMode(), topology.AdvertiseDefault), Groups: in.GetBgp().GetAdvertisedGroups()}}
	for _, ar := range in.GetBgp().GetAdvertisedIpRanges() {
		p, err := netip.ParsePrefix(ar.GetRange())
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.bgp.advertisedIpRanges[].range': '%s'.", ar.GetRange()))
			return
		}
		rt.Advertise.Ranges = append(rt.Advertise.Ranges, p)
	}
	network := lastSegment(in.GetNetwork())
	writeProto(w, http.StatusOK, s.startOperation("regions/"+region, "insert", s.link("regions", region, "routers", rt.Name),
		s.recorded("regions/"+region+"/routers/"+rt.Name, in.GetDescription(), func() error {
			return s.cloud.InsertRouter(context.Background(), network, rt)
		})))
}
