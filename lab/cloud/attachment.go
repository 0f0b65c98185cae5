package cloud

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"reachgate/lab"
)

// Partner Interconnect VLAN attachments inserted and deleted through the API, and the
// partner's side: GCP's rules checked are that the attachment's router exists in its region
// (a router the API inserted), the type is PARTNER (the lab has no Dedicated Interconnect
// ports) and a name is unique in its region. GCP hands out a pairing key; the partner
// connects the attachment with it.

// InsertAttachment records a PENDING_PARTNER attachment and returns its pairing key.
func (c Lab) InsertAttachment(ctx context.Context, a lab.APIAttachment) (string, error) {
	if err := c.L.Refresh(); err != nil {
		return "", err
	}
	if a.EdgeDomain == "" || a.EdgeDomain == "AVAILABILITY_DOMAIN_ANY" {
		a.EdgeDomain = "AVAILABILITY_DOMAIN_1"
	}
	domain := map[string]string{"AVAILABILITY_DOMAIN_1": "1", "AVAILABILITY_DOMAIN_2": "2"}[a.EdgeDomain]
	switch {
	case domain == "":
		return "", fmt.Errorf("interconnect attachment %q: edgeAvailabilityDomain %q is not AVAILABILITY_DOMAIN_1, _2 or _ANY", a.Name, a.EdgeDomain)
	case c.L.Cloud.Attachments[a.Name] != nil || c.L.Current.Link(a.Name) != nil:
		return "", fmt.Errorf("interconnect attachment %q already exists", a.Name)
	}
	found := false
	for vpc, n := range c.L.Cloud.Networks {
		for _, r := range n.Routers {
			if r.Name == a.Router && r.Region == a.Region {
				a.Network, found = vpc, true
			}
		}
	}
	if !found {
		return "", fmt.Errorf("interconnect attachment %q: router %q does not exist in %s (or is the lab topology's)", a.Name, a.Router, a.Region)
	}
	a.PairingKey = uuid.NewString() + "/" + a.Region + "/" + domain
	err := c.change(ctx, func(cs *lab.CloudState) error {
		if cs.Attachments == nil {
			cs.Attachments = map[string]*lab.APIAttachment{}
		}
		a.Seq = nextSeq(cs.Attachments, func(o *lab.APIAttachment) int { return o.Seq })
		cs.Attachments[a.Name] = &a
		return nil
	})
	return a.PairingKey, err
}

// DeleteAttachment deletes an attachment the API inserted; its link goes with it.
func (c Lab) DeleteAttachment(ctx context.Context, region, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if a := c.L.Cloud.Attachments[name]; a == nil || a.Region != region {
		return fmt.Errorf("interconnect attachment %q in %s does not exist (or is the lab topology's)", name, region)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		delete(cs.Attachments, name)
		return nil
	})
}

// ConnectPartner is the partner's side of Partner Interconnect, played by the lab for its
// third-party cloud: the attachment with the pairing key is connected to vpc (a VPC of the
// lab's third-party side) at its Cloud Router-like router, and turns ACTIVE.
func (c Lab) ConnectPartner(ctx context.Context, pairingKey, vpc string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	var a *lab.APIAttachment
	for _, o := range c.L.Cloud.Attachments {
		if o.PairingKey == pairingKey {
			a = o
		}
	}
	n := c.L.Current.Network(vpc)
	switch {
	case a == nil:
		return fmt.Errorf("no interconnect attachment has pairing key %q", pairingKey)
	case a.Connected():
		return fmt.Errorf("interconnect attachment %q is already connected (to %s)", a.Name, a.PartnerVPC)
	case n == nil || n.GCP():
		return fmt.Errorf("%q is not a VPC of the lab's third-party cloud", vpc)
	case len(n.Routers) == 0:
		return fmt.Errorf("VPC %s of the third-party cloud has no router to take the attachment (declare one in the topology)", vpc)
	}
	name, router := a.Name, n.Routers[0].Name
	return c.change(ctx, func(cs *lab.CloudState) error {
		cs.Attachments[name].PartnerVPC, cs.Attachments[name].PartnerRouter = vpc, router
		return nil
	})
}

// attachmentOn names an attachment on the router, or "".
func (c Lab) attachmentOn(region, router string) string {
	for _, a := range c.L.Cloud.Attachments {
		if a.Router == router && a.Region == region {
			return a.Name
		}
	}
	return ""
}
