package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// How a run marks what it creates, so that a janitor finds it and never anything else: the
// name starts with NamePrefix, and the resource carries the label RunLabel (where the
// resource has labels) or a description that starts with DescriptionPrefix (every resource
// has one). A resource is a run's only with the prefix and one of the two marks.
const (
	NamePrefix        = "rg-"
	RunLabel          = "reachgate-run"
	DescriptionPrefix = "reachgate run "
)

// Description is what a run writes into each resource's description.
func Description(run string) string {
	return DescriptionPrefix + run + ": created by reachgate's gcp provider; `reachgate gcp janitor` removes it"
}

// Leftover is a resource a run created.
type Leftover struct {
	Kind    string    `json:"kind"`  // "instance", "firewall", …
	Scope   string    `json:"scope"` // "global", "regions/R", "zones/Z", "locations/L"
	Name    string    `json:"name"`
	Run     string    `json:"run"`
	Created time.Time `json:"created"`
}

func (l Leftover) String() string { return l.Kind + " " + l.Scope + "/" + l.Name }

// deleteOrder is the order a janitor deletes kinds in: what uses a resource goes before it.
var deleteOrder = []string{"instance", "cluster", "interconnectAttachment", "vpnTunnel", "router", "vpnGateway", "externalVpnGateway", "address", "firewall", "peering", "subnetwork", "network"}

// candidate is what a list says of one resource.
type candidate struct {
	kind, scope, name, description string
	labels                         map[string]string
	created                        string
}

// run is the run that marked c, "" when c is not a run's.
func (c candidate) run(prefix string) string {
	if !strings.HasPrefix(c.name, prefix) {
		return ""
	}
	if r := c.labels[RunLabel]; r != "" {
		return r
	}
	if rest, ok := strings.CutPrefix(c.description, DescriptionPrefix); ok {
		run, _, _ := strings.Cut(rest, ":")
		return strings.TrimSpace(run)
	}
	return ""
}

// JanitorOptions choose what a janitor removes.
type JanitorOptions struct {
	// OlderThan keeps what was created more recently (a run in progress).
	OlderThan time.Duration
	// Run limits it to one run's resources ("" any run's).
	Run string
	// Prefix is the name prefix (default NamePrefix).
	Prefix string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log, when set, gets a line per resource deleted.
	Log io.Writer
}

// FindLeftovers lists the project's resources a reachgate run created (its marks), older than
// o.OlderThan, in the order they must be deleted.
func (c *Cloud) FindLeftovers(ctx context.Context, o JanitorOptions) ([]Leftover, error) {
	if o.Prefix == "" {
		o.Prefix = NamePrefix
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	cands, err := c.candidates(ctx)
	if err != nil {
		return nil, err
	}
	var out []Leftover
	for _, cd := range cands {
		run := cd.run(o.Prefix)
		if run == "" || (o.Run != "" && run != o.Run) {
			continue
		}
		created, err := time.Parse(time.RFC3339, cd.created)
		if err != nil {
			// Without a creation time its age is unknown: a janitor leaves it.
			continue
		}
		if o.Now().Sub(created) < o.OlderThan {
			continue
		}
		out = append(out, Leftover{Kind: cd.kind, Scope: cd.scope, Name: cd.name, Run: run, Created: created})
	}
	slices.SortStableFunc(out, func(a, b Leftover) int {
		if d := slices.Index(deleteOrder, a.Kind) - slices.Index(deleteOrder, b.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.Scope+"/"+a.Name, b.Scope+"/"+b.Name)
	})
	return out, nil
}

// DeleteLeftovers deletes resources in the order given (FindLeftovers' order); one that is
// already gone is fine. It goes on after a failure and returns every error.
func (c *Cloud) DeleteLeftovers(ctx context.Context, ls []Leftover, log io.Writer) error {
	var errs []error
	for _, l := range ls {
		start := time.Now()
		err := c.deleteOne(ctx, l)
		if IsNotFound(err) {
			err = nil
		}
		if log != nil {
			status := "deleted"
			if err != nil {
				status = "FAILED: " + err.Error()
			}
			fmt.Fprintf(log, "janitor: %s (run %s): %s in %.1fs\n", l, l.Run, status, time.Since(start).Seconds())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Cloud) deleteOne(ctx context.Context, l Leftover) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	p := c.cfg.Project
	region, _ := strings.CutPrefix(l.Scope, "regions/")
	regional := func(send func() (*compute.Operation, error)) error {
		return c.do(ctx, region, "delete "+l.String(), send)
	}
	switch l.Kind {
	case "instance":
		zone, _ := strings.CutPrefix(l.Scope, "zones/")
		var op *compute.Operation
		err := retry(ctx, func() (err error) {
			op, err = c.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: p, Zone: zone, Instance: l.Name, RequestId: requestID()})
			return err
		})
		if err != nil {
			return wrap("delete "+l.String(), err)
		}
		return c.waitZone(ctx, zone, op)
	case "cluster":
		loc, _ := strings.CutPrefix(l.Scope, "locations/")
		var op *containerpb.Operation
		err := retry(ctx, func() (err error) {
			op, err = c.clusters.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: fmt.Sprintf("projects/%s/locations/%s/clusters/%s", p, loc, l.Name)})
			return err
		})
		if err != nil {
			return wrap("delete "+l.String(), err)
		}
		return c.waitContainer(ctx, loc, op)
	case "interconnectAttachment":
		return regional(func() (*compute.Operation, error) {
			return c.attachments.Delete(ctx, &computepb.DeleteInterconnectAttachmentRequest{Project: p, Region: region, InterconnectAttachment: l.Name, RequestId: requestID()})
		})
	case "vpnTunnel":
		return regional(func() (*compute.Operation, error) {
			return c.vpnTunnels.Delete(ctx, &computepb.DeleteVpnTunnelRequest{Project: p, Region: region, VpnTunnel: l.Name, RequestId: requestID()})
		})
	case "router":
		return regional(func() (*compute.Operation, error) {
			return c.routers.Delete(ctx, &computepb.DeleteRouterRequest{Project: p, Region: region, Router: l.Name, RequestId: requestID()})
		})
	case "vpnGateway":
		return regional(func() (*compute.Operation, error) {
			return c.vpnGateways.Delete(ctx, &computepb.DeleteVpnGatewayRequest{Project: p, Region: region, VpnGateway: l.Name, RequestId: requestID()})
		})
	case "address":
		return regional(func() (*compute.Operation, error) {
			return c.addresses.Delete(ctx, &computepb.DeleteAddressRequest{Project: p, Region: region, Address: l.Name, RequestId: requestID()})
		})
	case "subnetwork":
		return regional(func() (*compute.Operation, error) {
			return c.subnetworks.Delete(ctx, &computepb.DeleteSubnetworkRequest{Project: p, Region: region, Subnetwork: l.Name, RequestId: requestID()})
		})
	case "externalVpnGateway":
		return c.do(ctx, "", "delete "+l.String(), func() (*compute.Operation, error) {
			return c.externalGateways.Delete(ctx, &computepb.DeleteExternalVpnGatewayRequest{Project: p, ExternalVpnGateway: l.Name, RequestId: requestID()})
		})
	case "firewall":
		return c.do(ctx, "", "delete "+l.String(), func() (*compute.Operation, error) {
			return c.firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: p, Firewall: l.Name, RequestId: requestID()})
		})
	case "peering":
		network := strings.TrimPrefix(l.Scope, "global/networks/")
		return c.do(ctx, "", "delete "+l.String(), func() (*compute.Operation, error) {
			return c.networks.RemovePeering(ctx, &computepb.RemovePeeringNetworkRequest{Project: p, Network: network, RequestId: requestID(),
				NetworksRemovePeeringRequestResource: &computepb.NetworksRemovePeeringRequest{Name: proto.String(l.Name)}})
		})
	case "network":
		return c.do(ctx, "", "delete "+l.String(), func() (*compute.Operation, error) {
			return c.networks.Delete(ctx, &computepb.DeleteNetworkRequest{Project: p, Network: l.Name, RequestId: requestID()})
		})
	}
	return fmt.Errorf("gcp: janitor: no way to delete a %s", l.Kind)
}

// each walks an iterator of aggregated pairs or items.
func each[T any](next func() (T, error), f func(T)) error {
	for {
		v, err := next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		f(v)
	}
}

// candidates lists every resource of the kinds a run creates, with its marks.
func (c *Cloud) candidates(ctx context.Context) ([]candidate, error) {
	p := c.cfg.Project
	var out []candidate
	add := func(kind, scope, name, description, created string, labels map[string]string) {
		out = append(out, candidate{kind: kind, scope: scope, name: name, description: description, created: created, labels: labels})
	}
	var errs []error
	list := func(what string, err error) {
		if err != nil {
			errs = append(errs, wrap("list "+what, err))
		}
	}
	it := c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: p})
	list("instances", each(it.Next, func(pair compute.InstancesScopedListPair) {
		for _, r := range pair.Value.GetInstances() {
			add("instance", pair.Key, r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), r.GetLabels())
		}
	}))
	tun := c.vpnTunnels.AggregatedList(ctx, &computepb.AggregatedListVpnTunnelsRequest{Project: p})
	list("vpn tunnels", each(tun.Next, func(pair compute.VpnTunnelsScopedListPair) {
		for _, r := range pair.Value.GetVpnTunnels() {
			add("vpnTunnel", pair.Key, r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), r.GetLabels())
		}
	}))
	ia := c.attachments.AggregatedList(ctx, &computepb.AggregatedListInterconnectAttachmentsRequest{Project: p})
	list("interconnect attachments", each(ia.Next, func(pair compute.InterconnectAttachmentsScopedListPair) {
		for _, r := range pair.Value.GetInterconnectAttachments() {
			add("interconnectAttachment", pair.Key, r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), r.GetLabels())
		}
	}))
	rt := c.routers.AggregatedList(ctx, &computepb.AggregatedListRoutersRequest{Project: p})
	list("routers", each(rt.Next, func(pair compute.RoutersScopedListPair) {
		for _, r := range pair.Value.GetRouters() {
			add("router", pair.Key, r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), nil)
		}
	}))
	gw := c.vpnGateways.AggregatedList(ctx, &computepb.AggregatedListVpnGatewaysRequest{Project: p})
	list("vpn gateways", each(gw.Next, func(pair compute.VpnGatewaysScopedListPair) {
		for _, r := range pair.Value.GetVpnGateways() {
			add("vpnGateway", pair.Key, r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), r.GetLabels())
		}
	}))
	ad := c.addresses.AggregatedList(ctx, &computepb.AggregatedListAddressesRequest{Project: p})
	list("addresses", each(ad.Next, func(pair compute.AddressesScopedListPair) {
		for _, r := range pair.Value.GetAddresses() {
			add("address", pair.Key, r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), r.GetLabels())
		}
	}))
	sn := c.subnetworks.AggregatedList(ctx, &computepb.AggregatedListSubnetworksRequest{Project: p})
	list("subnetworks", each(sn.Next, func(pair compute.SubnetworksScopedListPair) {
		for _, r := range pair.Value.GetSubnetworks() {
			add("subnetwork", pair.Key, r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), nil)
		}
	}))
	eg := c.externalGateways.List(ctx, &computepb.ListExternalVpnGatewaysRequest{Project: p})
	list("external vpn gateways", each(eg.Next, func(r *computepb.ExternalVpnGateway) {
		add("externalVpnGateway", "global", r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), r.GetLabels())
	}))
	fw := c.firewalls.List(ctx, &computepb.ListFirewallsRequest{Project: p})
	list("firewalls", each(fw.Next, func(r *computepb.Firewall) {
		add("firewall", "global", r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), nil)
	}))
	nw := c.networks.List(ctx, &computepb.ListNetworksRequest{Project: p})
	list("networks", each(nw.Next, func(r *computepb.Network) {
		add("network", "global", r.GetName(), r.GetDescription(), r.GetCreationTimestamp(), nil)
		// A peering has no marks of its own: it is the run's when its network is.
		for _, pr := range r.GetPeerings() {
			if strings.HasPrefix(r.GetName(), NamePrefix) {
				add("peering", "global/networks/"+r.GetName(), pr.GetName(), r.GetDescription(), r.GetCreationTimestamp(), nil)
			}
		}
	}))
	cl, err := c.clusters.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: fmt.Sprintf("projects/%s/locations/-", p)})
	list("clusters", err)
	for _, r := range cl.GetClusters() {
		add("cluster", "locations/"+r.GetLocation(), r.GetName(), r.GetDescription(), r.GetCreateTime(), r.GetResourceLabels())
	}
	return out, errors.Join(errs...)
}
