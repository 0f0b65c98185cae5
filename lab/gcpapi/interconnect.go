package gcpapi

import (
	"context"
	"fmt"
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
	"reachgate/lab"
)

// attachment is a VLAN attachment on a Cloud Router of a customer GCP VPC: an interconnect
// link of the topology file, or one the API inserted (api set).
type attachment struct {
	name, region, router string
	api                  *lab.APIAttachment
}

// attachments are the lab's VLAN attachments: the topology's in its order, one per
// interconnect link with a side in a customer GCP VPC that names one of that VPC's routers
// (side a when both sides do); then those the API inserted, by name.
func (s *Server) attachments() []attachment {
	var out []attachment
	cs := s.state()
	for _, l := range s.cloud.L.Current.Links {
		if l.Type != topology.LinkInterconnect || cs.Attachments[l.Name] != nil {
			continue
		}
		for _, e := range []topology.Endpoint{l.A, l.B} {
			n := s.cloud.L.Current.Network(e.VPC)
			if n == nil || !n.GCP() || n.ManagedBy != "" || e.Router == "" {
				continue
			}
			if rt := n.Router(e.Router); rt != nil {
				out = append(out, attachment{name: l.Name, region: rt.Region, router: rt.Name})
				break
			}
		}
	}
	for _, name := range sortedKeys(cs.Attachments) {
		a := cs.Attachments[name]
		out = append(out, attachment{name: a.Name, region: a.Region, router: a.Router, api: a})
	}
	return out
}

// interconnectAttachments serves interconnectAttachments.get, .list, .insert (type PARTNER on a
// router the API inserted), .delete and .setLabels of a region. The topology's own
// attachments are read only.
func (s *Server) interconnectAttachments(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	find := func(name string) (attachment, bool) {
		for _, a := range s.attachments() {
			if a.region == region && a.name == name {
				return a, true
			}
		}
		return attachment{}, false
	}
	switch {
	case isSetLabels(r, rest):
		a, ok := find(rest[0])
		if !ok || a.api == nil {
			s.notFoundResource(w, "regions/"+region+"/interconnectAttachments/"+rest[0])
			return
		}
		s.setLabels(w, r, "regions/"+region, region, "interconnectAttachments", a.name, a.api.Labels)
	case r.Method == http.MethodPost || r.Method == http.MethodDelete:
		s.mutate(w, r, "regions/"+region, "interconnectAttachments", rest, func() (string, string, func() error, bool) {
			var in computepb.InterconnectAttachment
			if !decode(w, r, &in) || !checkLabels(w, in.GetLabels()) {
				return "", "", nil, false
			}
			if in.GetType() != "PARTNER" {
				writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.type': %q. The lab has no Dedicated Interconnect ports: create a PARTNER attachment, which the lab's third-party cloud connects as the partner.", in.GetType()))
				return "", "", nil, false
			}
			a := lab.APIAttachment{Name: in.GetName(), Region: region, Router: lastSegment(in.GetRouter()), EdgeDomain: in.GetEdgeAvailabilityDomain(),
				Labels: in.GetLabels(), Description: in.GetDescription()}
			return a.Name, in.GetDescription(), func() error {
				_, err := s.cloud.InsertAttachment(context.Background(), a)
				return err
			}, true
		}, func(name string) error { return s.cloud.DeleteAttachment(context.Background(), region, name) })
	case r.Method != http.MethodGet:
		methodNotAllowed(w, r)
	case len(rest) == 0:
		list := &computepb.InterconnectAttachmentList{Kind: proto.String("compute#interconnectAttachmentList"),
			Id:       proto.String("projects/" + s.project + "/regions/" + region + "/interconnectAttachments"),
			SelfLink: proto.String(s.link("regions", region, "interconnectAttachments"))}
		for _, a := range s.attachments() {
			if a.region == region {
				list.Items = append(list.Items, s.attachmentResource(a))
			}
		}
		writeProto(w, http.StatusOK, list)
	default:
		if a, ok := find(rest[0]); ok && len(rest) == 1 {
			writeProto(w, http.StatusOK, s.attachmentResource(a))
			return
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
		key := "regions/" + a.region
		if out.Items[key] == nil {
			out.Items[key] = &computepb.InterconnectAttachmentsScopedList{}
		}
		out.Items[key].InterconnectAttachments = append(out.Items[key].InterconnectAttachments, s.attachmentResource(a))
	}
	writeProto(w, http.StatusOK, out)
}

// attachmentResource is the InterconnectAttachment resource: a PARTNER attachment on its
// router. The topology's are ACTIVE and OS_ACTIVE (the lab's interconnects are always up),
// without labels; the API's are PENDING_PARTNER with their pairing key until the partner
// connects them.
func (s *Server) attachmentResource(a attachment) *computepb.InterconnectAttachment {
	out := &computepb.InterconnectAttachment{Kind: proto.String("compute#interconnectAttachment"), Name: proto.String(a.name),
		Id: proto.Uint64(stableID(a.region + "/interconnectAttachment/" + a.name)), CreationTimestamp: proto.String(s.created()),
		Region: proto.String(s.link("regions", a.region)), SelfLink: proto.String(s.link("regions", a.region, "interconnectAttachments", a.name)),
		Router: proto.String(s.link("regions", a.region, "routers", a.router)), Type: proto.String("PARTNER"),
		State: proto.String("ACTIVE"), OperationalStatus: proto.String("OS_ACTIVE"), AdminEnabled: proto.Bool(true),
		LabelFingerprint: proto.String(emptyLabelFingerprint)}
	if api := a.api; api != nil {
		out.CreationTimestamp, out.Description = s.stamp("regions/" + a.region + "/interconnectAttachments/" + a.name)
		out.Labels, out.LabelFingerprint = api.Labels, labelFingerprint(api.Labels)
		out.PairingKey, out.EdgeAvailabilityDomain = proto.String(api.PairingKey), proto.String(api.EdgeDomain)
		if !api.Connected() {
			out.State, out.OperationalStatus = proto.String("PENDING_PARTNER"), proto.String("OS_UNPROVISIONED")
		}
	}
	return out
}
