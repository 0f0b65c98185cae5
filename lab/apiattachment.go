package lab

import (
	"maps"
	"slices"

	"reachgate/framework/topology"
)

// A Partner Interconnect VLAN attachment the API inserted (interconnectAttachments.insert) on
// a Cloud Router of a VPC it inserted. It is PENDING_PARTNER until the partner connects it
// with its pairing key to a VPC of the third-party cloud; the lab plays the partner for its
// third-party side (cloud.ConnectPartner). Connected, it is an interconnect link between the
// two VPCs' routers, realized and routed as the topology file's interconnects are.

// APIAttachment is the attachment as inserted, and its partner side once connected.
type APIAttachment struct {
	Name        string            `json:"name"`
	Region      string            `json:"region"`
	Network     string            `json:"network"`
	Router      string            `json:"router"`
	EdgeDomain  string            `json:"edgeAvailabilityDomain"`
	PairingKey  string            `json:"pairingKey"`
	Labels      map[string]string `json:"labels,omitempty"`
	Description string            `json:"description,omitempty"`
	// PartnerVPC and PartnerRouter are the third-party side once the partner connected it.
	PartnerVPC    string `json:"partnerVpc,omitempty"`
	PartnerRouter string `json:"partnerRouter,omitempty"`
	// Seq numbers its link (p<attachmentSeqBase+Seq>) apart from the API's peerings.
	Seq int `json:"seq"`
}

// attachmentSeqBase numbers the attachments' links after the API's peerings' and before the
// cluster's peering's.
const attachmentSeqBase = 4000

// Connected reports whether the partner has connected the attachment.
func (a *APIAttachment) Connected() bool { return a.PartnerVPC != "" }

// declareAttachments adds the connected attachments' interconnect links to d.
func declareAttachments(d *topology.Topology, cs *CloudState) {
	for _, name := range slices.Sorted(maps.Keys(cs.Attachments)) {
		a := cs.Attachments[name]
		if !a.Connected() {
			continue
		}
		d.Links = append(d.Links, &topology.Connection{Name: a.Name, Type: topology.LinkInterconnect,
			A: topology.Endpoint{VPC: a.PartnerVPC, Router: a.PartnerRouter}, B: topology.Endpoint{VPC: a.Network, Router: a.Router}})
	}
}
