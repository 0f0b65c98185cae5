package gcp

import (
	"context"
	"fmt"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
)

// partnerAttachment joins a VPC of the project to the external third-party cloud over an
// interconnect link l as Partner Interconnect does: a PARTNER VLAN attachment on the GCP
// side's Cloud Router, its pairing key handed to the partner (o.Partner), then ACTIVE.
func (c *Cloud) partnerAttachment(ctx context.Context, t *topology.Topology, l *topology.Connection, o ProvisionOptions) (string, error) {
	gcpSide, peer := l.A, l.B
	if !t.Network(gcpSide.VPC).GCP() {
		gcpSide, peer = peer, gcpSide
	}
	r := t.Network(gcpSide.VPC).Router(gcpSide.Router)
	if r == nil {
		return "", fmt.Errorf("interconnect %s: VPC %s has no router %q for the attachment", l.Name, gcpSide.VPC, gcpSide.Router)
	}
	p, region, name := c.cfg.Project, r.Region, ResourceName(o.Run, l.Name)
	res := &computepb.InterconnectAttachment{Name: proto.String(name), Description: proto.String(Description(o.Run)),
		Labels: map[string]string{RunLabel: o.Run}, Type: proto.String("PARTNER"), AdminEnabled: proto.Bool(true),
		EdgeAvailabilityDomain: proto.String("AVAILABILITY_DOMAIN_1"),
		Router:                 proto.String("projects/" + p + "/regions/" + region + "/routers/" + ResourceName(o.Run, r.Name))}
	err := c.do(ctx, region, "insert interconnect attachment", func() (*compute.Operation, error) {
		return c.attachments.Insert(ctx, &computepb.InsertInterconnectAttachmentRequest{Project: p, Region: region, RequestId: requestID(), InterconnectAttachmentResource: res})
	})
	if err != nil {
		return name, err
	}
	get := func() (a *computepb.InterconnectAttachment, err error) {
		err = retry(ctx, func() (err error) {
			a, err = c.attachments.Get(ctx, &computepb.GetInterconnectAttachmentRequest{Project: p, Region: region, InterconnectAttachment: name})
			return err
		})
		if err != nil {
			return nil, wrap("get interconnect attachment "+name, err)
		}
		return a, nil
	}
	a, err := get()
	if err != nil {
		return name, err
	}
	if a.GetPairingKey() == "" {
		return name, fmt.Errorf("interconnect attachment %s has no pairing key to give the partner (state %s)", name, a.GetState())
	}
	if err := o.Partner(ctx, a.GetPairingKey(), peer.VPC); err != nil {
		return name, fmt.Errorf("the partner connecting %s to %s: %w", name, peer.VPC, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	for a.GetState() != "ACTIVE" {
		select {
		case <-ctx.Done():
			return name, fmt.Errorf("interconnect attachment %s is %s, not ACTIVE, after the partner connected it: %w", name, a.GetState(), ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
		if a, err = get(); err != nil {
			return name, err
		}
	}
	return name, nil
}
