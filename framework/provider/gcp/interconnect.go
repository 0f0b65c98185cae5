package gcp

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
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

// standInInterconnect emulates interconnect l, the i-th of the run's, between a VPC of the
// project and the stand-in VPC for the third-party cloud (also the project's) with an HA VPN
// pair: a gateway in each VPC, two tunnels from each (interface k meets the peer's k, one
// shared secret per pair of tunnels) and a BGP session per tunnel on both Cloud Routers
// (169.254.<200+i>.<4k>/30: the link's A side takes .1, B .2). The routers' advertisements are
// the topology's, as over the interconnect.
func (c *Cloud) standInInterconnect(ctx context.Context, t *topology.Topology, l *topology.Connection, i int, o ProvisionOptions,
	region func(*topology.Network, string) string) error {
	type end struct {
		ep       topology.Endpoint
		router   *topology.CloudRouter
		region   string
		gateway  string
		asn      uint32
		tunnelOf func(k int) string
	}
	var ends [2]end
	for s, ep := range []topology.Endpoint{l.A, l.B} {
		n := t.Network(ep.VPC)
		r := n.Router(ep.Router)
		e := end{ep: ep, router: r, region: region(n, r.Region), gateway: ResourceName(o.Run, l.Name+"-"+ep.VPC), asn: r.ASN}
		e.tunnelOf = func(k int) string { return ResourceName(o.Run, fmt.Sprintf("%s-%s-%d", l.Name, ep.VPC, k)) }
		ends[s] = e
	}
	labels := map[string]string{RunLabel: o.Run}
	for _, e := range ends {
		if err := c.InsertVpnGateway(ctx, cloud.VpnGateway{Name: e.gateway, Network: ResourceName(o.Run, e.ep.VPC), Region: e.region,
			Labels: labels, Description: Description(o.Run)}); err != nil {
			return err
		}
	}
	secrets := [2]string{uuid.NewString(), uuid.NewString()}
	for s, e := range ends {
		other := ends[1-s]
		var peers []cloud.RouterBgpPeer
		for k := range 2 {
			name := e.tunnelOf(k)
			if err := c.InsertVpnTunnel(ctx, cloud.VpnTunnel{Name: name, Region: e.region, VpnGateway: e.gateway, VpnGatewayInterface: k,
				PeerGcpGateway: other.gateway, PeerRegion: other.region, Router: ResourceName(o.Run, e.router.Name), Labels: labels,
				Description: Description(o.Run), SharedSecret: secrets[k]}); err != nil {
				return err
			}
			a := netip.AddrFrom4([4]byte{169, 254, byte(200 + i), byte(4*k + 1)})
			me, them := a, a.Next()
			if s == 1 {
				me, them = them, me
			}
			peers = append(peers, cloud.RouterBgpPeer{Name: name, Tunnel: name, IPAddress: me, PeerIPAddress: them, PeerAsn: other.asn, AdvertisedRoutePriority: 100})
		}
		if err := c.PatchRouter(ctx, cloud.RouterPatch{Network: ResourceName(o.Run, e.ep.VPC), Router: ResourceName(o.Run, e.router.Name), BgpPeers: &peers}); err != nil {
			return err
		}
	}
	return nil
}
