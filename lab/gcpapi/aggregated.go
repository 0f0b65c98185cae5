package gcpapi

import (
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
)

// aggregatedAddresses, aggregatedVpnGateways and aggregatedVpnTunnels serve the
// aggregatedList of addresses, vpnGateways and vpnTunnels: every region's, by
// "regions/<region>" (a janitor reads a whole project this way).

func (s *Server) aggregatedAddresses(w http.ResponseWriter, r *http.Request) {
	as, err := s.cloud.Addresses(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	out := &computepb.AddressAggregatedList{Kind: proto.String("compute#addressAggregatedList"), Id: proto.String("projects/" + s.project + "/aggregated/addresses"),
		SelfLink: proto.String(s.link("aggregated", "addresses")), Items: map[string]*computepb.AddressesScopedList{}}
	for _, a := range as {
		key := "regions/" + a.Region
		if out.Items[key] == nil {
			out.Items[key] = &computepb.AddressesScopedList{}
		}
		out.Items[key].Addresses = append(out.Items[key].Addresses, s.addressResource(a))
	}
	writeProto(w, http.StatusOK, out)
}

func (s *Server) aggregatedVpnGateways(w http.ResponseWriter, _ *http.Request) {
	out := &computepb.VpnGatewayAggregatedList{Kind: proto.String("compute#vpnGatewayAggregatedList"), Id: proto.String("projects/" + s.project + "/aggregated/vpnGateways"),
		SelfLink: proto.String(s.link("aggregated", "vpnGateways")), Items: map[string]*computepb.VpnGatewaysScopedList{}}
	for _, name := range sortedKeys(s.state().VPNGateways) {
		g := s.state().VPNGateways[name]
		key := "regions/" + g.Region
		if out.Items[key] == nil {
			out.Items[key] = &computepb.VpnGatewaysScopedList{}
		}
		out.Items[key].VpnGateways = append(out.Items[key].VpnGateways, s.vpnGatewayResource(g))
	}
	writeProto(w, http.StatusOK, out)
}

func (s *Server) aggregatedVpnTunnels(w http.ResponseWriter, r *http.Request) {
	out := &computepb.VpnTunnelAggregatedList{Kind: proto.String("compute#vpnTunnelAggregatedList"), Id: proto.String("projects/" + s.project + "/aggregated/vpnTunnels"),
		SelfLink: proto.String(s.link("aggregated", "vpnTunnels")), Items: map[string]*computepb.VpnTunnelsScopedList{}}
	statuses := map[string]cloud.VpnGatewayStatus{}
	for _, name := range sortedKeys(s.state().Tunnels) {
		t := s.state().Tunnels[name]
		st, ok := statuses[t.VpnGateway]
		if !ok {
			st, _ = s.cloud.GetVpnGatewayStatus(r.Context(), t.VpnGateway)
			statuses[t.VpnGateway] = st
		}
		key := "regions/" + t.Region
		if out.Items[key] == nil {
			out.Items[key] = &computepb.VpnTunnelsScopedList{}
		}
		out.Items[key].VpnTunnels = append(out.Items[key].VpnTunnels, s.vpnTunnelResource(name, t, st))
	}
	writeProto(w, http.StatusOK, out)
}
