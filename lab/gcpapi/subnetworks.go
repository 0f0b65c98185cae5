package gcpapi

import (
	"fmt"
	"net/http"
	"net/netip"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
)

// subnetworks serves subnetworks.get, list, insert and delete of a region: the subnets of
// the customer GCP VPCs.
func (s *Server) subnetworks(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.insertSubnetwork(w, r, region)
	case len(rest) == 1 && r.Method == http.MethodDelete:
		s.deleteSubnetwork(w, region, rest[0])
	case r.Method != http.MethodGet:
		methodNotAllowed(w, r)
	case len(rest) == 0:
		list := &computepb.SubnetworkList{Kind: proto.String("compute#subnetworkList"), Id: proto.String("projects/" + s.project + "/regions/" + region + "/subnetworks"),
			SelfLink: proto.String(s.link("regions", region, "subnetworks"))}
		for _, n := range s.customerNetworks() {
			for _, sn := range n.Subnets {
				if sn.Region == region {
					list.Items = append(list.Items, s.subnetworkResource(n, sn))
				}
			}
		}
		writeProto(w, http.StatusOK, list)
	case len(rest) == 1:
		for _, n := range s.customerNetworks() {
			for _, sn := range n.Subnets {
				if sn.Region == region && sn.Name == rest[0] {
					writeProto(w, http.StatusOK, s.subnetworkResource(n, sn))
					return
				}
			}
		}
		s.notFoundResource(w, "regions/"+region+"/subnetworks/"+rest[0])
	default:
		s.notFoundResource(w, "regions/"+region+"/subnetworks/"+rest[0])
	}
}

// aggregatedSubnetworks serves subnetworks.aggregatedList: every subnet, by region.
func (s *Server) aggregatedSubnetworks(w http.ResponseWriter, _ *http.Request) {
	out := &computepb.SubnetworkAggregatedList{Kind: proto.String("compute#subnetworkAggregatedList"), Id: proto.String("projects/" + s.project + "/aggregated/subnetworks"),
		SelfLink: proto.String(s.link("aggregated", "subnetworks")), Items: map[string]*computepb.SubnetworksScopedList{}}
	for _, n := range s.customerNetworks() {
		for _, sn := range n.Subnets {
			key := "regions/" + sn.Region
			if out.Items[key] == nil {
				out.Items[key] = &computepb.SubnetworksScopedList{}
			}
			out.Items[key].Subnetworks = append(out.Items[key].Subnetworks, s.subnetworkResource(n, sn))
		}
	}
	writeProto(w, http.StatusOK, out)
}

// subnetworkResource is the Subnetwork resource of a subnet: its primary range (gateway at the
// first address), its secondary ranges, purpose PRIVATE. Private Google Access is on for the
// cluster's subnet only (GKE turns it on for a private cluster's subnet; the topology models
// it nowhere else).
func (s *Server) subnetworkResource(n *topology.Network, sn *topology.Subnetwork) *computepb.Subnetwork {
	cl := s.cloud.L.Current.Cluster
	pga := cl != nil && cl.VPC == n.Name && cl.Subnet == sn.Name
	out := &computepb.Subnetwork{Kind: proto.String("compute#subnetwork"), Name: proto.String(sn.Name),
		Id:      proto.Uint64(stableID(sn.Region + "/subnetwork/" + n.Name + "/" + sn.Name)),
		Network: proto.String(s.link("global", "networks", n.Name)), Region: proto.String(s.link("regions", sn.Region)),
		SelfLink:    proto.String(s.link("regions", sn.Region, "subnetworks", sn.Name)),
		IpCidrRange: proto.String(sn.CIDR.String()), GatewayAddress: proto.String(sn.CIDR.Masked().Addr().Next().String()),
		PrivateIpGoogleAccess: proto.Bool(pga), Purpose: proto.String("PRIVATE"), StackType: proto.String("IPV4_ONLY")}
	out.CreationTimestamp, out.Description = s.stamp("regions/" + sn.Region + "/subnetworks/" + sn.Name)
	parts := []any{n.Name, sn.Name, sn.Region, sn.CIDR, pga}
	for _, r := range sn.Secondary {
		out.SecondaryIpRanges = append(out.SecondaryIpRanges, &computepb.SubnetworkSecondaryRange{RangeName: proto.String(r.Name), IpCidrRange: proto.String(r.CIDR.String())})
		parts = append(parts, r.Name, r.CIDR)
	}
	out.Fingerprint = proto.String(fingerprint(parts...))
	return out
}

// routes serves routes.list and routes.get (global). The lab's topology declares no static
// routes and no internet gateway (the lab has no egress), so the collection holds what GCP
// itself creates for the ranges: one SUBNET route per primary and secondary range of each
// customer VPC, next hop the VPC (GCP lists these "default-route-…" routes too). Dynamic
// routes are never in routes.list (GCP shows them in routers.getRouterStatus), and peering
// routes are served by networks.listPeeringRoutes.
func (s *Server) routes(w http.ResponseWriter, r *http.Request, rest []string) {
	var all []*computepb.Route
	for _, n := range s.customerNetworks() {
		for _, sn := range n.Subnets {
			for _, p := range sn.Prefixes() {
				all = append(all, s.subnetRoute(n.Name, p))
			}
		}
	}
	getOrList(s, w, r, "routes", rest, all, func(items []*computepb.Route) proto.Message {
		return &computepb.RouteList{Kind: proto.String("compute#routeList"), Id: proto.String("projects/" + s.project + "/global/routes"),
			SelfLink: proto.String(s.link("global", "routes")), Items: items}
	})
}

// subnetRoute is the SUBNET route of range p in network.
func (s *Server) subnetRoute(network string, p netip.Prefix) *computepb.Route {
	id := stableID("route/" + network + "/" + p.String())
	name := fmt.Sprintf("default-route-%016x", id)
	return &computepb.Route{Kind: proto.String("compute#route"), Name: proto.String(name), Id: proto.Uint64(id),
		CreationTimestamp: proto.String(s.created()), Network: proto.String(s.link("global", "networks", network)),
		DestRange: proto.String(p.Masked().String()), Priority: proto.Uint32(0), NextHopNetwork: proto.String(s.link("global", "networks", network)),
		RouteType: proto.String("SUBNET"), Description: proto.String("Default local route to the subnetwork " + p.Masked().String() + "."),
		SelfLink: proto.String(s.link("global", "routes", name))}
}
