package topology

import (
	"fmt"
	"strings"
)

// Private Service Access (Memorystore, Cloud SQL): Google runs the service in a producer VPC
// (managedBy: servicenetworking) peered with the customer's consumer VPC by the peering
// servicenetworking-googleapis-com. The consumer reserves allocated ranges; the producer's
// subnets are carved from them. Google sets the producer side's flags: it imports custom
// routes and exports none. As for the GKE master side, the file writes them
// (importCustomRoutes: true) and the parser holds them to Google's values.

// serviceNetworking checks the producer VPCs and the peering servicenetworking-googleapis-com.
func (c *checker) serviceNetworking() {
	for i, l := range c.t.Links {
		if l.Name == PeeringServiceNetworking {
			c.servicePeering(at("spec.links", i), l)
		}
	}
	for i, n := range c.t.Networks {
		if n.GCP() && n.ManagedBy == ManagedByServiceNetworking {
			c.producer(i, n)
		}
	}
}

// servicePeering checks the link named servicenetworking-googleapis-com: a peering from a
// customer GCP VPC to a servicenetworking VPC, whose side has Google's flags.
func (c *checker) servicePeering(p string, l *Connection) {
	if l.Type != LinkPeering {
		if l.Type == LinkInterconnect || l.Type == LinkVPN {
			c.add(p+".type", "link %s is the Private Service Access peering, and this is %s (set type: peering, or rename the link)", l.Name, linkNoun(l.Type))
		}
		return
	}
	a, b := c.t.Network(l.A.VPC), c.t.Network(l.B.VPC)
	if a == nil || b == nil || a == b || !a.GCP() || !b.GCP() {
		return // reported by links()
	}
	aProd, bProd := a.ManagedBy == ManagedByServiceNetworking, b.ManagedBy == ManagedByServiceNetworking
	switch {
	case !aProd && !bProd:
		c.add(p+".name", "peering %s joins %q and %q, and neither is a servicenetworking VPC (set managedBy: %s on the producer VPC, or rename the link)",
			l.Name, a.Name, b.Name, ManagedByServiceNetworking)
		return
	case aProd && bProd:
		c.add(p+".a.vpc", "VPC %q is a servicenetworking VPC like %q, and peering %s joins a producer VPC to a customer GCP VPC (name the consumer VPC)",
			a.Name, b.Name, l.Name)
		return
	}
	side, other, prod, cons := "b", "a", l.B, a
	if aProd {
		side, other, prod, cons = "a", "b", l.A, b
	}
	if !customer(cons) {
		c.add(p+"."+other+".vpc", "VPC %q is not a customer GCP VPC (%s), and peering %s joins the producer VPC to one (name the consumer VPC)",
			cons.Name, owner(cons), l.Name)
	}
	if !prod.ImportCustomRoutes {
		c.add(p+"."+side+".importCustomRoutes", "is not true, and Google sets it on its producer side of %s (write importCustomRoutes: true, as on the GKE master's side of the GKE peering)", l.Name)
	}
	if prod.ExportCustomRoutes {
		c.add(p+"."+side+".exportCustomRoutes", "is true, and Google's producer side of %s exports no custom routes (remove exportCustomRoutes)", l.Name)
	}
}

// producer checks a servicenetworking VPC: joined only by the peering
// servicenetworking-googleapis-com, no routers of its own (firewall and allocated ranges are
// refused with the other managed VPCs'), and subnets inside the consumer's allocated ranges.
func (c *checker) producer(i int, n *Network) {
	p := at("spec.vpcs", i)
	if len(n.Routers) > 0 {
		c.add(p+".routers", "%s, which has no Cloud Routers of its own (remove them)", owner(n))
	}
	var consumer *Network
	joined := false
	for j, l := range c.t.Links {
		for _, s := range []struct {
			side string
			e    Endpoint
			them Endpoint
		}{{"a", l.A, l.B}, {"b", l.B, l.A}} {
			if s.e.VPC != n.Name {
				continue
			}
			if l.Name != PeeringServiceNetworking { // its type is checked by servicePeering
				c.add(at("spec.links", j)+"."+s.side+".vpc", "VPC %q is a servicenetworking producer VPC, joined only by the peering %s (remove this link, or name another VPC)",
					n.Name, PeeringServiceNetworking)
				continue
			}
			joined = true
			if o := c.t.Network(s.them.VPC); o != nil && customer(o) {
				consumer = o
			}
		}
	}
	if !joined {
		c.add(p+".managedBy", "no peering %s joins servicenetworking VPC %q to a consumer VPC (add a link with name: %s, type: peering, a: {vpc: CONSUMER}, b: {vpc: %s, importCustomRoutes: true})",
			PeeringServiceNetworking, n.Name, PeeringServiceNetworking, n.Name)
	}
	if consumer == nil {
		return
	}
	var list []string
	for _, r := range consumer.Allocated {
		if r.CIDR.IsValid() {
			list = append(list, r.Name+" "+r.CIDR.String())
		}
	}
	have := "which has none"
	if len(list) > 0 {
		have = "whose allocated ranges are " + strings.Join(list, ", ")
	}
	for _, r := range c.ranges(i) {
		inside := false
		for _, a := range consumer.Allocated {
			inside = inside || (a.CIDR.IsValid() && a.CIDR.Bits() <= r.cidr.Bits() && a.CIDR.Contains(r.cidr.Addr()))
		}
		if !inside {
			c.add(r.path, "%s is not inside an allocated range of consumer VPC %q, %s (producer subnets are carved from the consumer's allocated range: %s)",
				r.cidr, consumer.Name, have, carveHint(consumer, len(list) > 0))
		}
	}
}

// carveHint says how to place a producer subnet inside the consumer's allocated ranges.
func carveHint(consumer *Network, has bool) string {
	if has {
		return "choose a range inside one of them"
	}
	return fmt.Sprintf("add one under allocatedRanges of VPC %q, like name: google-managed-services-%s, cidr: A.B.0.0/16", consumer.Name, consumer.Name)
}
