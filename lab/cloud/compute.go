package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"reachgate/framework/topology"
	"reachgate/lab"
)

// VPCs, subnets and VMs inserted and deleted through the API: recorded in the cloud state and
// realized by Reconcile (namespaces, veths, routes and filters). GCP's rules checked: names
// are unique, a subnet's ranges do not overlap another subnet's in its VPC, a VM's address is
// in its subnet and free, and what is in use cannot be deleted (a VPC with subnets, firewall
// rules or VMs; a subnet with VMs).

// InsertNetwork creates a VPC (custom subnet mode).
func (c Lab) InsertNetwork(ctx context.Context, name, routingMode string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if c.L.Current.Network(name) != nil {
		return fmt.Errorf("network %q already exists", name)
	}
	if routingMode == "" {
		routingMode = topology.RoutingRegional
	}
	if routingMode != topology.RoutingRegional && routingMode != topology.RoutingGlobal {
		return fmt.Errorf("network %q: routingMode %q is not REGIONAL or GLOBAL", name, routingMode)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		if cs.Networks == nil {
			cs.Networks = map[string]*lab.APINetwork{}
		}
		cs.Networks[name] = &lab.APINetwork{Name: name, RoutingMode: routingMode}
		return nil
	})
}

// DeleteNetwork deletes a VPC the API inserted, once nothing is in it.
func (c Lab) DeleteNetwork(ctx context.Context, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	n := c.L.Current.Network(name)
	if n == nil {
		return fmt.Errorf("network %q does not exist", name)
	}
	if c.L.Cloud.Networks[name] == nil {
		return fmt.Errorf("network %q is the lab topology's: the lab cannot delete it", name)
	}
	if len(n.Subnets) > 0 {
		return fmt.Errorf("network %q is in use by subnetwork %q (delete it first)", name, n.Subnets[0].Name)
	}
	if len(n.Firewall) > 0 {
		return fmt.Errorf("network %q is in use by firewall %q (delete it first)", name, n.Firewall[0].Name)
	}
	if len(n.Routers) > 0 {
		return fmt.Errorf("network %q is in use by router %q (delete it first)", name, n.Routers[0].Name)
	}
	if cl := c.L.Cloud.Cluster; cl != nil && cl.Network == name {
		return fmt.Errorf("network %q is in use by cluster %q (delete it first)", name, cl.Name)
	}
	for _, p := range c.L.Cloud.APIPeerings {
		if p.Network == name {
			return fmt.Errorf("network %q is in use by peering %q (remove it first)", name, p.Name)
		}
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		delete(cs.Networks, name)
		return nil
	})
}

// InsertSubnetwork adds a subnet to a VPC the API inserted.
func (c Lab) InsertSubnetwork(ctx context.Context, network string, s lab.APISubnet) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	n := c.L.Current.Network(network)
	if n == nil {
		return fmt.Errorf("network %q does not exist", network)
	}
	if c.L.Cloud.Networks[network] == nil {
		return fmt.Errorf("network %q is the lab topology's: add subnets to it in the topology file", network)
	}
	if !s.CIDR.IsValid() || !s.CIDR.Addr().Is4() || s.CIDR.Bits() > 29 || s.CIDR.Masked() != s.CIDR {
		return fmt.Errorf("subnetwork %q: ipCidrRange %s is not an IPv4 range of /29 or wider", s.Name, s.CIDR)
	}
	ranges := append([]topology.NamedRange{{Name: s.Name, CIDR: s.CIDR}}, s.Secondary...)
	for _, o := range n.Subnets {
		if o.Name == s.Name && o.Region == s.Region {
			return fmt.Errorf("subnetwork %q already exists", s.Name)
		}
		for _, op := range o.Prefixes() {
			for _, r := range ranges {
				if op.Overlaps(r.CIDR) {
					return fmt.Errorf("subnetwork %q: range %s (%s) conflicts with %s of subnetwork %q", s.Name, r.CIDR, r.Name, op, o.Name)
				}
			}
		}
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		cs.Networks[network].Subnets = append(cs.Networks[network].Subnets, s)
		return nil
	})
}

// DeleteSubnetwork removes a subnet the API inserted, once no VM is in it.
func (c Lab) DeleteSubnetwork(ctx context.Context, region, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	for vpc, n := range c.L.Cloud.Networks {
		i := slices.IndexFunc(n.Subnets, func(s lab.APISubnet) bool { return s.Name == name && s.Region == region })
		if i < 0 {
			continue
		}
		for _, h := range c.L.Current.Hosts {
			if h.VPC == vpc && h.Subnet == name {
				return fmt.Errorf("subnetwork %q is in use by instance %q (delete it first)", name, h.Name)
			}
		}
		return c.change(ctx, func(cs *lab.CloudState) error {
			cs.Networks[vpc].Subnets = slices.Delete(cs.Networks[vpc].Subnets, i, i+1)
			return nil
		})
	}
	return fmt.Errorf("subnetwork %q in %s does not exist (or is the lab topology's)", name, region)
}

// InsertInstance creates a VM in a subnet: at in.IP, or (invalid IP) the subnet's first free
// address. It returns the address.
func (c Lab) InsertInstance(ctx context.Context, in lab.APIInstance) (netip.Addr, error) {
	if err := c.L.Refresh(); err != nil {
		return netip.Addr{}, err
	}
	if c.L.Current.Host(in.Name) != nil {
		return netip.Addr{}, fmt.Errorf("instance %q already exists", in.Name)
	}
	n := c.L.Current.Network(in.Network)
	if n == nil || !n.GCP() || n.ManagedBy != "" {
		return netip.Addr{}, fmt.Errorf("instance %q: network %q does not exist in the project", in.Name, in.Network)
	}
	var sub *topology.Subnetwork
	for _, s := range n.Subnets {
		if s.Name == in.Subnet && s.Region == lab.ZoneRegion(in.Zone) {
			sub = s
		}
	}
	if sub == nil {
		return netip.Addr{}, fmt.Errorf("instance %q: no subnetwork %q in network %q and region %s", in.Name, in.Subnet, in.Network, lab.ZoneRegion(in.Zone))
	}
	// GCP: an address is taken within its VPC (another VPC, or the third-party cloud, may
	// use the same range).
	used := map[netip.Addr]bool{}
	for _, h := range c.L.Current.Hosts {
		if h.VPC == in.Network {
			used[h.IP] = true
		}
	}
	as, _ := c.Addresses(ctx)
	for _, a := range as {
		used[a.Address] = true
	}
	// GCP keeps a subnet's first two and last two addresses.
	first, last := sub.CIDR.Addr().Next().Next(), lastAddr(sub.CIDR).Prev()
	usable := func(a netip.Addr) bool { return sub.CIDR.Contains(a) && a.Compare(first) >= 0 && a.Compare(last) < 0 }
	switch {
	case in.IP.IsValid() && !usable(in.IP):
		return netip.Addr{}, fmt.Errorf("instance %q: networkIP %s is not a usable address of subnetwork %q (%s)", in.Name, in.IP, sub.Name, sub.CIDR)
	case in.IP.IsValid() && used[in.IP]:
		return netip.Addr{}, fmt.Errorf("instance %q: networkIP %s is already in use", in.Name, in.IP)
	case !in.IP.IsValid():
		for a := first; usable(a); a = a.Next() {
			if !used[a] {
				in.IP = a
				break
			}
		}
		if !in.IP.IsValid() {
			return netip.Addr{}, fmt.Errorf("instance %q: subnetwork %q has no free address", in.Name, sub.Name)
		}
	}
	err := c.change(ctx, func(cs *lab.CloudState) error {
		if cs.Instances == nil {
			cs.Instances = map[string]*lab.APIInstance{}
		}
		in.Seq = nextSeq(cs.Instances, func(o *lab.APIInstance) int { return o.Seq })
		cs.Instances[in.Name] = &in
		return nil
	})
	return in.IP, err
}

// nextSeq is one past the highest sequence number among m's values (0 for none): a number
// that stays with a resource for its life, from which the lab derives its interface names.
func nextSeq[T any](m map[string]*T, seq func(*T) int) int {
	n := 0
	for _, v := range m {
		n = max(n, seq(v)+1)
	}
	return n
}

// DeleteInstance deletes a VM the API inserted: its namespace and everything in it go.
func (c Lab) DeleteInstance(ctx context.Context, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if c.L.Cloud.Instances[name] == nil {
		if c.L.Current.Host(name) != nil {
			return fmt.Errorf("instance %q is the lab topology's: the lab cannot delete it", name)
		}
		return fmt.Errorf("instance %q does not exist", name)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		delete(cs.Instances, name)
		return nil
	})
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// InsertRouter adds a Cloud Router to a VPC the API inserted. GCP: the ASN is a private one
// (64512-65534, 4200000000-4294967294) or 16550 (Partner Interconnect), and a name is unique in
// its region.
func (c Lab) InsertRouter(ctx context.Context, network string, r lab.APIRouter) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if c.L.Cloud.Networks[network] == nil {
		if c.L.Current.Network(network) != nil {
			return fmt.Errorf("network %q is the lab topology's: add routers to it in the topology file", network)
		}
		return fmt.Errorf("network %q does not exist", network)
	}
	if a := r.ASN; !(a >= 64512 && a <= 65534 || a >= 4200000000 && a <= 4294967294 || a == 16550) {
		return fmt.Errorf("router %q: bgp.asn %d is not a private ASN (64512-65534, 4200000000-4294967294) or 16550", r.Name, r.ASN)
	}
	for _, n := range c.L.Current.Networks {
		if rt := n.Router(r.Name); rt != nil && rt.Region == r.Region {
			return fmt.Errorf("router %q already exists in %s", r.Name, r.Region)
		}
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		cs.Networks[network].Routers = append(cs.Networks[network].Routers, r)
		return nil
	})
}

// DeleteRouter removes a Cloud Router the API inserted, once no tunnel uses it.
func (c Lab) DeleteRouter(ctx context.Context, region, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	for tn, t := range c.L.Cloud.Tunnels {
		if t.Router == name && t.Region == region {
			return fmt.Errorf("router %q is in use by vpn tunnel %q (delete the tunnel first)", name, tn)
		}
	}
	if a := c.attachmentOn(region, name); a != "" {
		return fmt.Errorf("router %q is in use by interconnect attachment %q (delete the attachment first)", name, a)
	}
	for vpc, n := range c.L.Cloud.Networks {
		i := slices.IndexFunc(n.Routers, func(r lab.APIRouter) bool { return r.Name == name && r.Region == region })
		if i < 0 {
			continue
		}
		return c.change(ctx, func(cs *lab.CloudState) error {
			cs.Networks[vpc].Routers = slices.Delete(cs.Networks[vpc].Routers, i, i+1)
			return nil
		})
	}
	return fmt.Errorf("router %q in %s does not exist (or is the lab topology's)", name, region)
}

// AddPeering adds one side of a peering between two of the project's VPCs (networks.
// addPeering). GCP: the peer is another VPC, a name is unique on its network, and the two
// VPCs' subnet ranges must not overlap. It is ACTIVE once the peer adds it back.
func (c Lab) AddPeering(ctx context.Context, p lab.APIPeering) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	me, peer := c.L.Current.Network(p.Network), c.L.Current.Network(p.Peer)
	switch {
	case me == nil || !me.GCP() || me.ManagedBy != "":
		return fmt.Errorf("network %q does not exist in the project", p.Network)
	case c.L.Cloud.Networks[p.Network] == nil:
		return fmt.Errorf("network %q is the lab topology's: declare its peerings in the topology file", p.Network)
	case peer == nil || !peer.GCP() || peer.ManagedBy != "":
		return fmt.Errorf("peer network %q does not exist in the project", p.Peer)
	case p.Peer == p.Network:
		return fmt.Errorf("peering %q: a network cannot peer with itself", p.Name)
	case c.L.Cloud.APIPeerings[lab.PeeringKey(p.Network, p.Name)] != nil || c.L.Current.Link(p.Name) != nil:
		return fmt.Errorf("peering %q already exists", p.Name)
	}
	for _, a := range me.Subnets {
		for _, b := range peer.Subnets {
			for _, pa := range a.Prefixes() {
				for _, pb := range b.Prefixes() {
					if pa.Overlaps(pb) {
						return fmt.Errorf("peering %q: %s of subnetwork %q overlaps %s of %q in %s", p.Name, pa, a.Name, pb, b.Name, p.Peer)
					}
				}
			}
		}
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		if cs.APIPeerings == nil {
			cs.APIPeerings = map[string]*lab.APIPeering{}
		}
		p.Seq = nextSeq(cs.APIPeerings, func(o *lab.APIPeering) int { return o.Seq })
		cs.APIPeerings[lab.PeeringKey(p.Network, p.Name)] = &p
		return nil
	})
}

// RemovePeering removes one side of a peering (networks.removePeering); the other side turns
// INACTIVE and the routes between the VPCs go.
func (c Lab) RemovePeering(ctx context.Context, network, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if c.L.Cloud.APIPeerings[lab.PeeringKey(network, name)] == nil {
		return fmt.Errorf("network %s has no peering %q (that the API added)", network, name)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		delete(cs.APIPeerings, lab.PeeringKey(network, name))
		delete(cs.Peerings, name+"/"+network)
		return nil
	})
}
