package gcpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
	"reachgate/lab"
	"reachgate/lab/netns"
)

// The read verbs of the HA VPN resources: vpnGateways.get, .list and .getStatus,
// externalVpnGateways.get and .list, vpnTunnels.get and .list. They read what the lab's cloud
// state recorded (the inserts), never the shared secret: as GCP, a tunnel shows
// sharedSecret "*************" and a sharedSecretHash.

// emptyLabelFingerprint is the labelFingerprint GCP returns for a resource without labels.
const emptyLabelFingerprint = "42WmSpB8rSM="

// maskedSecret is how GCP shows a tunnel's sharedSecret.
const maskedSecret = "*************"

func (s *Server) readVpnGateways(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	if len(rest) == 0 {
		list := &computepb.VpnGatewayList{Kind: proto.String("compute#vpnGatewayList"), Id: proto.String("projects/" + s.project + "/regions/" + region + "/vpnGateways"),
			SelfLink: proto.String(s.link("regions", region, "vpnGateways"))}
		for _, name := range sortedKeys(s.state().VPNGateways) {
			if g := s.state().VPNGateways[name]; strings.EqualFold(g.Region, region) {
				list.Items = append(list.Items, s.vpnGatewayResource(g))
			}
		}
		writeProto(w, http.StatusOK, list)
		return
	}
	g, ok := s.state().VPNGateways[rest[0]]
	if !ok || !strings.EqualFold(g.Region, region) || len(rest) > 2 || (len(rest) == 2 && rest[1] != "getStatus") {
		s.notFoundResource(w, "regions/"+region+"/vpnGateways/"+rest[0])
		return
	}
	if len(rest) == 1 {
		writeProto(w, http.StatusOK, s.vpnGatewayResource(g))
		return
	}
	st, err := s.cloud.GetVpnGatewayStatus(r.Context(), g.Name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	writeProto(w, http.StatusOK, &computepb.VpnGatewaysGetStatusResponse{Result: s.vpnGatewayStatus(st)})
}

// vpnGatewayStatus is getStatus's result: one vpnConnection per peer gateway, with its tunnels
// and whether they meet the 99.99 % topology, as the lab judges it (GetVpnGatewayStatus: both
// interfaces used and every tunnel ESTABLISHED).
func (s *Server) vpnGatewayStatus(st cloud.VpnGatewayStatus) *computepb.VpnGatewayStatus {
	out := &computepb.VpnGatewayStatus{}
	byPeer := map[string]*computepb.VpnGatewayStatusVpnConnection{}
	tunnels := s.state().Tunnels
	for _, ts := range st.Tunnels {
		peer := tunnels[ts.Name].PeerExternalGateway
		c := byPeer[peer]
		if c == nil {
			c = &computepb.VpnGatewayStatusVpnConnection{PeerExternalGateway: proto.String(s.link("global", "externalVpnGateways", peer)),
				State: &computepb.VpnGatewayStatusHighAvailabilityRequirementState{State: proto.String(st.Redundancy)}}
			if st.Redundancy != cloud.RedundancyMet {
				c.State.UnsatisfiedReason = proto.String("INCOMPLETE_TUNNELS_COVERAGE")
			}
			byPeer[peer] = c
			out.VpnConnections = append(out.VpnConnections, c)
		}
		c.Tunnels = append(c.Tunnels, &computepb.VpnGatewayStatusTunnel{LocalGatewayInterface: proto.Uint32(uint32(ts.VpnGatewayInterface)),
			PeerGatewayInterface: proto.Uint32(uint32(ts.PeerInterface)),
			TunnelUrl:            proto.String(s.link("regions", tunnels[ts.Name].Region, "vpnTunnels", ts.Name))})
	}
	return out
}

// interfaceAddress is the address of interface k of a gateway of the link: the lab's stand-in
// for the gateway's public addresses is the underlay of the link's tunnel k, its GCP side for
// the HA VPN gateway and its peer side for the external gateway.
func (s *Server) interfaceAddress(gateway string, k int, peer bool) (netip.Addr, bool) {
	l, ok := s.cloud.L.SolutionLinkOf("", gateway)
	if !ok {
		return netip.Addr{}, false
	}
	plan := s.cloud.L.Plan
	if plan == nil {
		plan = &netns.Plan{}
	}
	_, g, p := lab.Underlay(plan, l.Name, l.Underlay, k)
	if peer {
		return p, true
	}
	return g, true
}

// vpnGatewayResource is the VpnGateway resource: its two interfaces with their addresses.
func (s *Server) vpnGatewayResource(g cloud.VpnGateway) *computepb.VpnGateway {
	out := &computepb.VpnGateway{Kind: proto.String("compute#vpnGateway"), Name: proto.String(g.Name),
		Id:     proto.Uint64(stableID(g.Region + "/vpnGateway/" + g.Name)),
		Region: proto.String(s.link("regions", g.Region)), Network: proto.String(s.link("global", "networks", g.Network)),
		SelfLink: proto.String(s.link("regions", g.Region, "vpnGateways", g.Name)), StackType: proto.String("IPV4_ONLY"),
		GatewayIpVersion: proto.String("IPV4"), Labels: g.Labels, LabelFingerprint: labelFingerprint(g.Labels)}
	out.CreationTimestamp, out.Description = s.stamp("regions/" + g.Region + "/vpnGateways/" + g.Name)
	for k := range 2 {
		vi := &computepb.VpnGatewayVpnGatewayInterface{Id: proto.Uint32(uint32(k))}
		if a, ok := s.interfaceAddress(g.Name, k, false); ok {
			vi.IpAddress = proto.String(a.String())
		}
		out.VpnInterfaces = append(out.VpnInterfaces, vi)
	}
	return out
}

func (s *Server) readExternalVpnGateways(w http.ResponseWriter, _ *http.Request, rest []string) {
	gws := s.state().ExternalGateways
	if len(rest) == 0 {
		list := &computepb.ExternalVpnGatewayList{Kind: proto.String("compute#externalVpnGatewayList"),
			Id: proto.String("projects/" + s.project + "/global/externalVpnGateways"), SelfLink: proto.String(s.link("global", "externalVpnGateways"))}
		for _, name := range sortedKeys(gws) {
			list.Items = append(list.Items, s.externalVpnGatewayResource(gws[name]))
		}
		writeProto(w, http.StatusOK, list)
		return
	}
	g, ok := gws[rest[0]]
	if !ok || len(rest) != 1 {
		s.notFoundResource(w, "global/externalVpnGateways/"+rest[0])
		return
	}
	writeProto(w, http.StatusOK, s.externalVpnGatewayResource(g))
}

// externalVpnGatewayResource is the ExternalVpnGateway resource: as many interfaces as its
// redundancy type gives it.
func (s *Server) externalVpnGatewayResource(g lab.ExternalGateway) *computepb.ExternalVpnGateway {
	out := &computepb.ExternalVpnGateway{Kind: proto.String("compute#externalVpnGateway"), Name: proto.String(g.Name),
		Id:             proto.Uint64(stableID("externalVpnGateway/" + g.Name)),
		RedundancyType: proto.String(g.RedundancyType), SelfLink: proto.String(s.link("global", "externalVpnGateways", g.Name)),
		Labels: g.Labels, LabelFingerprint: labelFingerprint(g.Labels)}
	out.CreationTimestamp, out.Description = s.stamp("global/externalVpnGateways/" + g.Name)
	for k := range g.Interfaces {
		i := &computepb.ExternalVpnGatewayInterface{Id: proto.Uint32(uint32(k))}
		if a, ok := s.interfaceAddress(g.Name, k, true); ok {
			i.IpAddress = proto.String(a.String())
		}
		out.Interfaces = append(out.Interfaces, i)
	}
	return out
}

func (s *Server) readVpnTunnels(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	tunnels := s.state().Tunnels
	if len(rest) == 0 {
		list := &computepb.VpnTunnelList{Kind: proto.String("compute#vpnTunnelList"), Id: proto.String("projects/" + s.project + "/regions/" + region + "/vpnTunnels"),
			SelfLink: proto.String(s.link("regions", region, "vpnTunnels"))}
		statuses := map[string]cloud.VpnGatewayStatus{} // by gateway
		for _, name := range sortedKeys(tunnels) {
			t := tunnels[name]
			if !strings.EqualFold(t.Region, region) {
				continue
			}
			st, ok := statuses[t.VpnGateway]
			if !ok {
				st, _ = s.cloud.GetVpnGatewayStatus(r.Context(), t.VpnGateway)
				statuses[t.VpnGateway] = st
			}
			list.Items = append(list.Items, s.vpnTunnelResource(name, t, st))
		}
		writeProto(w, http.StatusOK, list)
		return
	}
	t, ok := tunnels[rest[0]]
	if !ok || !strings.EqualFold(t.Region, region) || len(rest) != 1 {
		s.notFoundResource(w, "regions/"+region+"/vpnTunnels/"+rest[0])
		return
	}
	st, _ := s.cloud.GetVpnGatewayStatus(r.Context(), t.VpnGateway)
	writeProto(w, http.StatusOK, s.vpnTunnelResource(rest[0], t, st))
}

// detailedStatus words a tunnel status as GCP's detailedStatus does.
var detailedStatus = map[string]string{
	"ESTABLISHED":         "Tunnel is up and running.",
	"FIRST_HANDSHAKE":     "Waiting for the first handshake with the peer.",
	"NO_INCOMING_PACKETS": "No incoming packets from the peer.",
	"FAILED":              "Tunnel failed; see the lab's VPN daemon log.",
}

// vpnTunnelResource is the VpnTunnel resource. Its status is the lab's view of the tunnel
// (from the gateway's status st: FIRST_HANDSHAKE until the tunnel's daemon reports it
// ESTABLISHED). The shared secret is not kept by the lab, so sharedSecretHash hashes the
// tunnel's identity: stable, and never the secret.
func (s *Server) vpnTunnelResource(name string, t lab.VPNTunnel, st cloud.VpnGatewayStatus) *computepb.VpnTunnel {
	status := "FIRST_HANDSHAKE"
	for _, ts := range st.Tunnels {
		if ts.Name == name && ts.Status != "" {
			status = ts.Status
		}
	}
	detail, ok := detailedStatus[status]
	if !ok {
		detail = status
	}
	sum := sha256.Sum256([]byte(t.Link + "/" + name))
	out := &computepb.VpnTunnel{Kind: proto.String("compute#vpnTunnel"), Name: proto.String(name),
		Id:     proto.Uint64(stableID(t.Region + "/vpnTunnel/" + name)),
		Region: proto.String(s.link("regions", t.Region)), SelfLink: proto.String(s.link("regions", t.Region, "vpnTunnels", name)),
		VpnGateway: proto.String(s.link("regions", t.Region, "vpnGateways", t.VpnGateway)), VpnGatewayInterface: proto.Int32(int32(t.VpnGatewayInterface)),
		PeerExternalGateway:          proto.String(s.link("global", "externalVpnGateways", t.PeerExternalGateway)),
		PeerExternalGatewayInterface: proto.Int32(int32(t.PeerExternalGatewayInterface)),
		Router:                       proto.String(s.link("regions", t.Region, "routers", t.Router)),
		IkeVersion:                   proto.Int32(2), Status: proto.String(status), DetailedStatus: proto.String(detail),
		SharedSecret: proto.String(maskedSecret), SharedSecretHash: proto.String(base64.RawURLEncoding.EncodeToString(sum[:18])),
		LocalTrafficSelector: []string{"0.0.0.0/0"}, RemoteTrafficSelector: []string{"0.0.0.0/0"},
		Labels: t.Labels, LabelFingerprint: labelFingerprint(t.Labels)}
	out.CreationTimestamp, out.Description = s.stamp("regions/" + t.Region + "/vpnTunnels/" + name)
	if t.PeerGcpGateway != "" {
		// A tunnel of an HA VPN pair: to the peer gateway's interface of the same number, up
		// while the pair joins the two VPCs (lab.PairLink).
		out.PeerExternalGateway, out.PeerExternalGatewayInterface = nil, nil
		out.PeerGcpGateway = proto.String(s.link("regions", t.PeerRegion, "vpnGateways", t.PeerGcpGateway))
		if s.cloud.L.Current.Link(t.Link) != nil {
			out.Status, out.DetailedStatus = proto.String("ESTABLISHED"), proto.String(detailedStatus["ESTABLISHED"])
		}
		return out
	}
	if a, ok := s.interfaceAddress(t.PeerExternalGateway, t.PeerExternalGatewayInterface, true); ok {
		out.PeerIp = proto.String(a.String())
	}
	return out
}

// sortedKeys returns a map's keys in order, so lists are stable.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
