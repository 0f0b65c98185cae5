package gcpapi

import (
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
)

// attachment is an interconnect link as the project sees it: its VLAN attachment on a Cloud
// Router of a customer GCP VPC.
type attachment struct {
	link   *topology.Connection
	router *topology.CloudRouter
}

// attachments are the lab's VLAN attachments, in the topology's order: one per interconnect
// link with a side in a customer GCP VPC that names one of that VPC's routers (side a when
// both sides do).
func (s *Server) attachments() []attachment {
	var out []attachment
	for _, l := range s.cloud.L.Current.Links {
		if l.Type != topology.LinkInterconnect {
			continue
		}
		for _, e := range []topology.Endpoint{l.A, l.B} {
			n := s.cloud.L.Current.Network(e.VPC)
			if n == nil || !n.GCP() || n.ManagedBy != "" || e.Router == "" {
				continue
			}
			if rt := n.Router(e.Router); rt != nil {
				out = append(out, attachment{link: l, router: rt})
				break
			}
		}
	}
	return out
}

// interconnectAttachments serves interconnectAttachments.get and .list of a region (read
// only: the topology's links are not changed through the API).
func (s *Server) interconnectAttachments(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	switch {
	case r.Method != http.MethodGet:
		methodNotAllowed(w, r)
	case len(rest) == 0:
		list := &computepb.InterconnectAttachmentList{Kind: proto.String("compute#interconnectAttachmentList"),
			Id:       proto.String("projects/" + s.project + "/regions/" + region + "/interconnectAttachments"),
			SelfLink: proto.String(s.link("regions", region, "interconnectAttachments"))}
		for _, a := range s.attachments() {
			if a.router.Region == region {
				list.Items = append(list.Items, s.attachmentResource(a))
			}
		}
		writeProto(w, http.StatusOK, list)
	default:
		for _, a := range s.attachments() {
			if len(rest) == 1 && a.router.Region == region && a.link.Name == rest[0] {
				writeProto(w, http.StatusOK, s.attachmentResource(a))
				return
			}
		}
		s.notFoundResource(w, "regions/"+region+"/interconnectAttachments/"+rest[0])
	}
}

// aggregatedInterconnectAttachments serves interconnectAttachments.aggregatedList: every
// attachment, by region.
func (s *Server) aggregatedInterconnectAttachments(w http.ResponseWriter, _ *http.Request) {
	out := &computepb.InterconnectAttachmentAggregatedList{Kind: proto.String("compute#interconnectAttachmentAggregatedList"),
		Id:       proto.String("projects/" + s.project + "/aggregated/interconnectAttachments"),
		SelfLink: proto.String(s.link("aggregated", "interconnectAttachments")), Items: map[string]*computepb.InterconnectAttachmentsScopedList{}}
	for _, a := range s.attachments() {
		key := "regions/" + a.router.Region
		if out.Items[key] == nil {
			out.Items[key] = &computepb.InterconnectAttachmentsScopedList{}
		}
		out.Items[key].InterconnectAttachments = append(out.Items[key].InterconnectAttachments, s.attachmentResource(a))
	}
	writeProto(w, http.StatusOK, out)
}

// attachmentResource is the InterconnectAttachment resource of a link: a PARTNER attachment
// on its router, ACTIVE and OS_ACTIVE (the lab's interconnects are always up), without labels.
func (s *Server) attachmentResource(a attachment) *computepb.InterconnectAttachment {
	region := a.router.Region
	return &computepb.InterconnectAttachment{Kind: proto.String("compute#interconnectAttachment"), Name: proto.String(a.link.Name),
		Id: proto.Uint64(stableID(region + "/interconnectAttachment/" + a.link.Name)), CreationTimestamp: proto.String(s.created()),
		Region: proto.String(s.link("regions", region)), SelfLink: proto.String(s.link("regions", region, "interconnectAttachments", a.link.Name)),
		Router: proto.String(s.link("regions", region, "routers", a.router.Name)), Type: proto.String("PARTNER"),
		State: proto.String("ACTIVE"), OperationalStatus: proto.String("OS_ACTIVE"), AdminEnabled: proto.Bool(true),
		LabelFingerprint: proto.String(emptyLabelFingerprint)}
}
