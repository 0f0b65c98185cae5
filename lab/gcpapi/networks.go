package gcpapi

import (
	"context"
	"fmt"
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab"
)

// networks serves networks.list, networks.get (with peerings), networks.updatePeering (PATCH),
// networks.listPeeringRoutes, insert and delete of the lab's customer GCP VPCs.
func (s *Server) networks(w http.ResponseWriter, r *http.Request, rest []string) {
	if len(rest) == 0 && r.Method == http.MethodPost {
		s.insertNetwork(w, r)
		return
	}
	if len(rest) == 0 && r.Method == http.MethodGet {
		list := &computepb.NetworkList{Kind: proto.String("compute#networkList"), Id: proto.String("projects/" + s.project + "/global/networks"),
			SelfLink: proto.String(s.link("global", "networks"))}
		for _, n := range s.customerNetworks() {
			list.Items = append(list.Items, s.networkResource(r.Context(), n))
		}
		writeProto(w, http.StatusOK, list)
		return
	}
	var n *topology.Network
	if len(rest) > 0 {
		n = s.cloud.L.Current.Network(rest[0])
	}
	if n == nil || !n.GCP() || n.ManagedBy != "" || len(rest) > 2 {
		name := ""
		if len(rest) > 0 {
			name = rest[0]
		}
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s/global/networks/%s' was not found", s.project, name))
		return
	}
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		writeProto(w, http.StatusOK, s.networkResource(r.Context(), n))
	case len(rest) == 1 && r.Method == http.MethodDelete:
		s.deleteNetwork(w, n.Name)
	case len(rest) == 2 && rest[1] == "updatePeering" && r.Method == http.MethodPatch:
		s.updatePeering(w, r, n.Name)
	case len(rest) == 2 && rest[1] == "addPeering" && r.Method == http.MethodPost:
		s.addPeering(w, r, n.Name)
	case len(rest) == 2 && rest[1] == "removePeering" && r.Method == http.MethodPost:
		var in computepb.NetworksRemovePeeringRequest
		if !decode(w, r, &in) {
			return
		}
		name := in.GetName()
		writeProto(w, http.StatusOK, s.startOperation("global", "removePeering", s.link("global", "networks", n.Name), func() error {
			return s.cloud.RemovePeering(context.Background(), n.Name, name)
		}))
	case len(rest) == 2 && rest[1] == "listPeeringRoutes" && r.Method == http.MethodGet:
		q := r.URL.Query()
		routes, err := s.cloud.ListPeeringRoutes(r.Context(), n.Name, q.Get("peeringName"), q.Get("direction"))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		out := &computepb.ExchangedPeeringRoutesList{Kind: proto.String("compute#exchangedPeeringRoutesList"),
			Id:       proto.String("projects/" + s.project + "/global/networks/" + n.Name + "/listPeeringRoutes"),
			SelfLink: proto.String(s.link("global", "networks", n.Name, "listPeeringRoutes"))}
		for _, pr := range routes {
			out.Items = append(out.Items, &computepb.ExchangedPeeringRoute{DestRange: proto.String(pr.DestRange), Type: proto.String(pr.Type),
				Imported: proto.Bool(pr.Imported), NextHopRegion: proto.String(pr.NextHopRegion), Priority: proto.Uint32(uint32(pr.Priority))})
		}
		writeProto(w, http.StatusOK, out)
	default:
		writeError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method+" is not allowed on "+r.URL.Path)
	}
}

// networkResource is the Network resource with this side's peerings.
func (s *Server) networkResource(ctx context.Context, n *topology.Network) *computepb.Network {
	out := &computepb.Network{Kind: proto.String("compute#network"), Name: proto.String(n.Name), Id: proto.Uint64(stableID("network/" + n.Name)),
		SelfLink: proto.String(s.link("global", "networks", n.Name)), AutoCreateSubnetworks: proto.Bool(false),
		RoutingConfig: &computepb.NetworkRoutingConfig{RoutingMode: proto.String(n.RoutingMode)}}
	out.CreationTimestamp, out.Description = s.stamp("global/networks/" + n.Name)
	for _, sn := range n.Subnets {
		out.Subnetworks = append(out.Subnetworks, s.link("regions", sn.Region, "subnetworks", sn.Name))
	}
	cs := s.state()
	for _, key := range sortedKeys(cs.APIPeerings) {
		p := cs.APIPeerings[key]
		if p.Network != n.Name {
			continue
		}
		state := "INACTIVE"
		if _, ok := cs.Active(p); ok {
			state = "ACTIVE"
		}
		out.Peerings = append(out.Peerings, &computepb.NetworkPeering{Name: proto.String(p.Name),
			Network: proto.String(s.link("global", "networks", p.Peer)), State: proto.String(state),
			ExchangeSubnetRoutes: proto.Bool(true), ExportCustomRoutes: proto.Bool(p.ExportCustomRoutes),
			ImportCustomRoutes: proto.Bool(p.ImportCustomRoutes)})
	}
	for _, l := range s.cloud.L.Current.Links {
		if l.Type != topology.LinkPeering || (l.A.VPC != n.Name && l.B.VPC != n.Name) || cs.APIPeerings[lab.PeeringKey(n.Name, l.Name)] != nil {
			continue
		}
		_, them := l.Side(n.Name)
		p, err := s.cloud.GetPeering(ctx, n.Name, l.Name)
		if err != nil {
			continue
		}
		out.Peerings = append(out.Peerings, &computepb.NetworkPeering{Name: proto.String(l.Name),
			Network: proto.String(s.link("global", "networks", them.VPC)), State: proto.String("ACTIVE"),
			ExchangeSubnetRoutes: proto.Bool(true), ExportCustomRoutes: proto.Bool(p.ExportCustomRoutes),
			ImportCustomRoutes: proto.Bool(p.ImportCustomRoutes)})
	}
	return out
}

// updatePeering applies networks.updatePeering: the custom route flags of one peering, in a
// global operation.
func (s *Server) updatePeering(w http.ResponseWriter, r *http.Request, network string) {
	var in computepb.NetworksUpdatePeeringRequest
	if !decode(w, r, &in) {
		return
	}
	np := in.GetNetworkPeering()
	cur, err := s.cloud.GetPeering(r.Context(), network, np.GetName())
	if err != nil {
		writeError(w, http.StatusNotFound, "notFound", err.Error())
		return
	}
	want := cloud.NetworkPeering{Network: network, Name: cur.Name, ExportCustomRoutes: cur.ExportCustomRoutes, ImportCustomRoutes: cur.ImportCustomRoutes}
	if np.ExportCustomRoutes != nil {
		want.ExportCustomRoutes = np.GetExportCustomRoutes()
	}
	if np.ImportCustomRoutes != nil {
		want.ImportCustomRoutes = np.GetImportCustomRoutes()
	}
	op := s.startOperation("global", "updatePeering", s.link("global", "networks", network), func() error {
		return s.cloud.UpdatePeering(context.Background(), want)
	})
	writeProto(w, http.StatusOK, op)
}

// customerNetworks are the VPCs the project owns: the GCP VPCs but the Google-owned master
// VPC (its peer's side shows it only as a peering).
func (s *Server) customerNetworks() []*topology.Network {
	var out []*topology.Network
	for _, n := range s.cloud.L.Current.Networks {
		if n.GCP() && n.ManagedBy == "" {
			out = append(out, n)
		}
	}
	return out
}

// addPeering serves networks.addPeering: one side of a peering, named, to another VPC of
// the project (networkPeering, or the older top-level name and peerNetwork), with its custom
// route flags.
func (s *Server) addPeering(w http.ResponseWriter, r *http.Request, network string) {
	var in computepb.NetworksAddPeeringRequest
	if !decode(w, r, &in) {
		return
	}
	p := lab.APIPeering{Network: network, Name: in.GetName(), Peer: lastSegment(in.GetPeerNetwork())}
	if np := in.GetNetworkPeering(); np != nil {
		p.Name, p.Peer = np.GetName(), lastSegment(np.GetNetwork())
		p.ExportCustomRoutes, p.ImportCustomRoutes = np.GetExportCustomRoutes(), np.GetImportCustomRoutes()
	}
	if p.Name == "" || p.Peer == "" {
		writeError(w, http.StatusBadRequest, "required", "A peering needs a name and a peer network.")
		return
	}
	writeProto(w, http.StatusOK, s.startOperation("global", "addPeering", s.link("global", "networks", network), func() error {
		return s.cloud.AddPeering(context.Background(), p)
	}))
}
