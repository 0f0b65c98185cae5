package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab"
)

// Clusters created and deleted through the container API (clusters.create/delete) in a VPC
// the API inserted. GCP's rules checked: one name per location, the subnet and its secondary
// ranges exist, the master range is a /28 that overlaps nothing of the VPC, and the nodes get
// free addresses of the subnet. The lab runs one cluster.

// MaxClusterNodes bounds a lab cluster's node count (each node is a namespace).
const MaxClusterNodes = 6

// InsertCluster records a private, peering-based cluster with its master authorized networks
// (nil: none); Reconcile realizes it and starts its control plane. It returns the cluster as
// recorded (node addresses assigned).
func (c Lab) InsertCluster(ctx context.Context, in lab.APICluster, nodes int, authorized *cloud.AuthorizedNetworks) (lab.APICluster, error) {
	if err := c.L.Refresh(); err != nil {
		return in, err
	}
	if cl := c.L.Current.Cluster; cl != nil {
		if cl.Name == in.Name {
			return in, fmt.Errorf("cluster %q already exists", in.Name)
		}
		return in, fmt.Errorf("the lab runs one cluster, and the project has %q (delete it first)", cl.Name)
	}
	if nodes < 1 || nodes > MaxClusterNodes {
		return in, fmt.Errorf("cluster %q: the lab runs 1 to %d nodes, not %d", in.Name, MaxClusterNodes, nodes)
	}
	n := c.L.Cloud.Networks[in.Network]
	if n == nil {
		return in, fmt.Errorf("cluster %q: network %q does not exist in the project (or is the lab topology's)", in.Name, in.Network)
	}
	region := topology.RegionOf(in.Location)
	i := slices.IndexFunc(n.Subnets, func(s lab.APISubnet) bool { return s.Name == in.Subnet && s.Region == region })
	if i < 0 {
		return in, fmt.Errorf("cluster %q: no subnetwork %q in network %q and region %s", in.Name, in.Subnet, in.Network, region)
	}
	sub := n.Subnets[i]
	for _, name := range []string{in.PodRange, in.ServiceRange} {
		if !slices.ContainsFunc(sub.Secondary, func(r topology.NamedRange) bool { return r.Name == name }) {
			return in, fmt.Errorf("cluster %q: subnetwork %q has no secondary range %q", in.Name, sub.Name, name)
		}
	}
	if in.PodRange == in.ServiceRange {
		return in, fmt.Errorf("cluster %q: the pod and service ranges are both %q (name two secondary ranges)", in.Name, in.PodRange)
	}
	if !in.MasterCIDR.IsValid() || in.MasterCIDR.Bits() != 28 || in.MasterCIDR.Masked() != in.MasterCIDR {
		return in, fmt.Errorf("cluster %q: masterIpv4CidrBlock %s is not a /28 network address (write it like 172.16.0.32/28)", in.Name, in.MasterCIDR)
	}
	for _, s := range c.L.Current.Network(in.Network).Subnets {
		for _, p := range s.Prefixes() {
			if p.Overlaps(in.MasterCIDR) {
				return in, fmt.Errorf("cluster %q: masterIpv4CidrBlock %s overlaps %s of subnetwork %q", in.Name, in.MasterCIDR, p, s.Name)
			}
		}
	}
	used := map[netip.Addr]bool{}
	for _, h := range c.L.Current.Hosts {
		used[h.IP] = true
	}
	as, _ := c.Addresses(ctx)
	for _, a := range as {
		used[a.Address] = true
	}
	first, last := sub.CIDR.Addr().Next().Next(), lastAddr(sub.CIDR).Prev()
	for a := first; len(in.NodeIPs) < nodes && sub.CIDR.Contains(a) && a.Compare(last) < 0; a = a.Next() {
		if !used[a] {
			in.NodeIPs = append(in.NodeIPs, a)
		}
	}
	if len(in.NodeIPs) < nodes {
		return in, fmt.Errorf("cluster %q: subnetwork %q has no room for %d nodes", in.Name, sub.Name, nodes)
	}
	if authorized != nil && len(authorized.CIDRBlocks) > 50 {
		return in, fmt.Errorf("cluster %q: authorized networks: %d blocks, GKE allows 50", in.Name, len(authorized.CIDRBlocks))
	}
	err := c.change(ctx, func(cs *lab.CloudState) error {
		cs.Cluster = &in
		cs.Authorized = authorized
		return nil
	})
	return in, err
}

// DeleteCluster deletes the API's cluster: its nodes, control plane, master VPC and peering.
func (c Lab) DeleteCluster(ctx context.Context, location, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if cl := c.L.Cloud.Cluster; cl == nil || cl.Name != name || cl.Location != location {
		if cl := c.L.Current.Cluster; cl != nil && cl.Name == name {
			return fmt.Errorf("cluster %q is the lab topology's: the lab cannot delete it", name)
		}
		return fmt.Errorf("cluster %q does not exist in %s", name, location)
	}
	peering := c.L.Cloud.Cluster.PeeringName()
	return c.change(ctx, func(cs *lab.CloudState) error {
		cs.Cluster = nil
		// What was set on the cluster and its peering goes with them.
		cs.Authorized, cs.GlobalAccess, cs.DNSExternalTraffic = nil, nil, nil
		for key := range cs.Peerings {
			if strings.HasPrefix(key, peering+"/") {
				delete(cs.Peerings, key)
			}
		}
		return nil
	})
}
