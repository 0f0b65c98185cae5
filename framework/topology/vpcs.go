package topology

import (
	"net/netip"
	"strconv"
)

// Private ASN ranges (RFC 6996), the only ones a Cloud Router accepts.
func privateASN(asn uint32) bool {
	return (asn >= 64512 && asn <= 65534) || (asn >= 4200000000 && asn <= 4294967294)
}

// labeledRange is a range of a VPC with where it is written, for overlap reports.
type labeledRange struct {
	cidr  netip.Prefix
	path  string
	label string // `subnet "default"`, `secondary range "gke-pods" of subnet "default"`
}

func (c *checker) vpcs() {
	if len(c.f.Spec.VPCs) == 0 {
		c.add("spec.vpcs", "at least one VPC is required (add a VPC under spec.vpcs)")
	}
	seen := map[string]string{}
	for i, v := range c.f.Spec.VPCs {
		p, n := at("spec.vpcs", i), c.t.Networks[i]
		if c.name(p+".name", "VPC", v.Name, "hub", maxName) {
			c.unique(seen, p+".name", "VPC", v.Name)
		}
		c.oneOf(p+".cloud", "cloud", v.Cloud, true, clouds...)
		if n.GCP() {
			c.oneOf(p+".managedBy", "managedBy value", v.ManagedBy, true, ManagedByGKE, ManagedByServiceNetworking)
			c.oneOf(p+".routingMode", "routing mode", v.RoutingMode, true, RoutingRegional, RoutingGlobal)
		} else {
			if v.ManagedBy != "" {
				c.add(p+".managedBy", "applies to GCP VPCs only, and this one is %s (remove it)", n.Cloud)
			}
			if v.RoutingMode != "" {
				c.add(p+".routingMode", "applies to GCP VPCs only, and this one is %s (remove it)", n.Cloud)
			}
		}
		c.subnets(i, v)
		c.routers(p, v, n)
		c.firewall(p, v, n)
		c.allocatedRanges(i, v, n)
	}
}

// customer reports whether n is a customer GCP VPC: gcp, and managed by no Google service.
func customer(n *Network) bool { return n.GCP() && n.ManagedBy == "" }

// owner says why n is not a customer GCP VPC, for messages: "this VPC is aws", "GKE manages
// this VPC".
func owner(n *Network) string {
	switch {
	case !n.GCP():
		return "this VPC is " + n.Cloud
	case n.ManagedBy == ManagedByGKE:
		return "GKE manages this VPC"
	case n.ManagedBy == ManagedByServiceNetworking:
		return "Service Networking manages this VPC for Private Service Access"
	}
	return "this VPC is managed by " + n.ManagedBy
}

// Prefix lengths an allocated range may have: GCP needs at least a /24 for Private Service
// Access; a /8 is the largest range reachgate accepts.
const (
	minAllocatedBits = 8
	maxAllocatedBits = 24
)

// allocatedRanges checks spec.vpcs[i].allocatedRanges: customer GCP VPCs only, unique valid
// names, /8 to /24 ranges that overlap neither the VPC's subnets nor each other.
func (c *checker) allocatedRanges(i int, v VPC, n *Network) {
	if len(v.AllocatedRanges) == 0 {
		return
	}
	p := at("spec.vpcs", i)
	if !customer(n) {
		c.add(p+".allocatedRanges", "allocated ranges apply to customer GCP VPCs only, and %s (remove them)", owner(n))
		return
	}
	seen := map[string]string{}
	ranges := c.ranges(i)
	for j, r := range v.AllocatedRanges {
		ap := at(p+".allocatedRanges", j)
		if c.name(ap+".name", "allocated range", r.Name, "google-managed-services", maxName) {
			c.unique(seen, ap+".name", "allocated range", r.Name)
		}
		if !c.cidr(ap+".cidr", r.CIDR) {
			continue
		}
		cidr := n.Allocated[j].CIDR
		if b := cidr.Bits(); b < minAllocatedBits || b > maxAllocatedBits {
			c.add(ap+".cidr", "%s is a /%d, and an allocated range is a /%d to a /%d (GCP needs at least a /24; /16 or /20 is usual)",
				cidr, b, minAllocatedBits, maxAllocatedBits)
			continue
		}
		for _, o := range ranges {
			if o.cidr.Overlaps(cidr) {
				c.add(ap+".cidr", "%s overlaps %s of %s (line %d) in the same VPC (choose a range that does not overlap)", cidr, o.cidr, o.label, c.loc.line(o.path))
				break
			}
		}
		ranges = append(ranges, labeledRange{cidr, ap + ".cidr", "allocated range " + strconv.Quote(r.Name)})
	}
}

// maxFirewallPriority is the lowest priority a rule may have (the implied rules' priority).
const maxFirewallPriority = 65535

func (c *checker) firewall(p string, v VPC, n *Network) {
	if len(v.Firewall) == 0 {
		return
	}
	if !customer(n) {
		c.add(p+".firewall", "firewall rules apply to customer GCP VPCs only, and %s (remove them)", owner(n))
		return
	}
	seen := map[string]string{}
	for j, f := range v.Firewall {
		fp := at(p+".firewall", j)
		if c.name(fp+".name", "firewall rule", f.Name, "allow-third-party", maxName) {
			c.unique(seen, fp+".name", "firewall rule", f.Name)
		}
		c.oneOf(fp+".action", "action", f.Action, true, "allow", "deny")
		if f.Priority != nil && (*f.Priority < 0 || *f.Priority > maxFirewallPriority) {
			c.add(fp+".priority", "%d is out of range (use 0 to %d; lower numbers win; leave it out for %d)", *f.Priority, maxFirewallPriority, DefaultFirewallPriority)
		}
		if len(f.SourceRanges) == 0 {
			c.add(fp+".sourceRanges", "at least one source range is required (write e.g. sourceRanges: [172.31.0.0/16])")
		}
		for k, s := range f.SourceRanges {
			c.cidr(at(fp+".sourceRanges", k), s)
		}
		for k, s := range f.Ports {
			if _, msg := ParsePortRange(s); msg != "" {
				c.add(at(fp+".ports", k), "%s", msg)
			}
		}
		for k, tag := range f.TargetTags {
			c.name(at(fp+".targetTags", k), "tag", tag, "gke-node", maxName)
		}
	}
}

func (c *checker) subnets(i int, v VPC) {
	p := at("spec.vpcs", i)
	if len(v.Subnets) == 0 {
		c.add(p+".subnets", "a VPC needs at least one subnet (add one under subnets)")
	}
	seen := map[string]string{}
	for j, s := range v.Subnets {
		sp := at(p+".subnets", j)
		if c.name(sp+".name", "subnet", s.Name, "default", maxName) {
			c.unique(seen, sp+".name", "subnet", s.Name)
		}
		c.location(sp+".region", s.Region, "us-central1")
		c.cidr(sp+".cidr", s.CIDR)
		seenRange := map[string]string{}
		for k, r := range s.SecondaryRanges {
			rp := at(sp+".secondaryRanges", k)
			if c.name(rp+".name", "secondary range", r.Name, "gke-pods", maxName) {
				c.unique(seenRange, rp+".name", "secondary range", r.Name)
			}
			c.cidr(rp+".cidr", r.CIDR)
		}
	}
	ranges := c.ranges(i)
	for j, b := range ranges {
		for _, a := range ranges[:j] {
			if a.cidr.Overlaps(b.cidr) {
				c.add(b.path, "%s overlaps %s of %s (line %d) in the same VPC (choose a range that does not overlap)", b.cidr, a.cidr, a.label, c.loc.line(a.path))
				break
			}
		}
	}
}

func (c *checker) routers(p string, v VPC, n *Network) {
	seen := map[string]string{}
	for j, r := range v.Routers {
		rp := at(p+".routers", j)
		if c.name(rp+".name", "router", r.Name, "hub-router", maxName) {
			c.unique(seen, rp+".name", "router", r.Name)
		}
		c.location(rp+".region", r.Region, "us-central1")
		if c.loc.set(rp+".asn") && !privateASN(r.ASN) {
			c.add(rp+".asn", "%d is not a private ASN (use one in 64512-65534 or 4200000000-4294967294, or leave it out for %d)", r.ASN, defaultASN(n))
		}
		a := r.Advertise
		if a == nil {
			continue
		}
		ap := rp + ".advertise"
		c.oneOf(ap+".mode", "advertisement mode", a.Mode, true, AdvertiseDefault, AdvertiseCustom)
		custom := a.Mode == AdvertiseCustom
		if len(a.Groups) > 0 && !custom {
			c.add(ap+".groups", "groups need mode: CUSTOM (set mode: CUSTOM or remove groups)")
		}
		for k, g := range a.Groups {
			if g != GroupAllSubnets {
				c.add(at(ap+".groups", k), "%q is not an advertised group (the only group is ALL_SUBNETS)", g)
			}
		}
		if len(a.Ranges) > 0 && !custom {
			c.add(ap+".ranges", "ranges need mode: CUSTOM (set mode: CUSTOM or remove ranges)")
		}
		for k, s := range a.Ranges {
			c.cidr(at(ap+".ranges", k), s)
		}
	}
}

// defaultASN is the ASN a router of n gets when the file leaves it out.
func defaultASN(n *Network) uint32 {
	if n.GCP() {
		return DefaultRouterASN
	}
	return DefaultPeerASN
}
