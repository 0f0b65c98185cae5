package topology

import "net/netip"

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
	}
}

// maxFirewallPriority is the lowest priority a rule may have (the implied rules' priority).
const maxFirewallPriority = 65535

func (c *checker) firewall(p string, v VPC, n *Network) {
	if len(v.Firewall) == 0 {
		return
	}
	if !n.GCP() || n.ManagedBy != "" {
		owner := "this VPC is " + n.Cloud
		if n.ManagedBy != "" {
			owner = "GKE manages this VPC"
		}
		c.add(p+".firewall", "firewall rules apply to customer GCP VPCs only, and %s (remove them)", owner)
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
