package topology

import (
	"regexp"
	"strconv"
	"time"
)

func (c *checker) links() {
	seen := map[string]string{}
	for i, l := range c.f.Spec.Links {
		p := at("spec.links", i)
		if c.name(p+".name", "link", l.Name, "hub-to-gke", maxName) {
			c.unique(seen, p+".name", "link", l.Name)
		}
		c.oneOf(p+".type", "link type", l.Type, false, LinkPeering, LinkInterconnect, LinkVPN)
		a := c.linkEnd(p+".a", l.A)
		b := c.linkEnd(p+".b", l.B)
		if a != nil && b != nil && a == b {
			c.add(p+".b.vpc", "a link cannot join VPC %q to itself (name another VPC)", a.Name)
			continue
		}
		switch l.Type {
		case LinkPeering:
			c.peering(p, l, a, b)
		case LinkInterconnect, LinkVPN:
			c.attachment(p, l, a, b)
		}
		c.solutionLink(p, l)
		c.impairment(p, l)
	}
}

var reRate = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit)$`)

// impairment checks a link's WAN emulation.
func (c *checker) impairment(p string, l Link) {
	im := l.Impairment
	if im == nil {
		return
	}
	p += ".impairment"
	if l.Type != LinkInterconnect && l.Type != LinkVPN {
		c.add(p, "applies to the WAN between clouds: interconnect and vpn links (remove it from this %s)", l.Type)
		return
	}
	c.oneOf(p+".profile", "WAN profile", im.Profile, true, WANProfiles...)
	for _, d := range []struct{ field, v string }{{"delay", im.Delay}, {"jitter", im.Jitter}} {
		if d.v == "" {
			continue
		}
		if v, err := time.ParseDuration(d.v); err != nil || v < 0 || v > 10*time.Second {
			c.add(p+"."+d.field, "%q is not a duration from 0 to 10s (write it like 75ms)", d.v)
		}
	}
	if im.Loss < 0 || im.Loss > 100 {
		c.add(p+".loss", "%g is not a percentage from 0 to 100", im.Loss)
	}
	if im.Rate != "" && !reRate.MatchString(im.Rate) {
		c.add(p+".rate", "%q is not a rate (write it like 20mbit; units bit, kbit, mbit, gbit)", im.Rate)
	}
}

// maxTunnels is the most tunnels an HA VPN gateway pair has (2 interfaces x 2 peer IPs).
const maxTunnels = 4

// solutionLink checks the fields of a link a solution creates.
func (c *checker) solutionLink(p string, l Link) {
	if l.Solution == "" {
		if l.Tunnels != 0 {
			c.add(p+".tunnels", "applies to links a solution creates (add solution: %s, or remove tunnels)", SolutionBGPExport)
		}
		for _, end := range []struct {
			side string
			e    LinkEnd
		}{{"a", l.A}, {"b", l.B}} {
			if end.e.Gateway != "" {
				c.add(p+"."+end.side+".gateway", "applies to links a solution creates (add solution: %s, or remove gateway)", SolutionBGPExport)
			}
		}
		return
	}
	c.oneOf(p+".solution", "solution", l.Solution, false, SolutionBGPExport)
	if l.Type != LinkVPN {
		c.add(p+".solution", "the %s solution creates vpn links (set type: vpn)", l.Solution)
	}
	if c.loc.set(p+".tunnels") && (l.Tunnels < 1 || l.Tunnels > maxTunnels) {
		c.add(p+".tunnels", "%d is not 1-%d (an HA VPN has at most %d tunnels; leave it out for %d)", l.Tunnels, maxTunnels, maxTunnels, DefaultTunnels)
	}
	for _, end := range []struct {
		side string
		e    LinkEnd
	}{{"a", l.A}, {"b", l.B}} {
		if end.e.Gateway == "" {
			c.add(p+"."+end.side, "names no gateway (write gateway: NAME for this side's VPN gateway)")
		} else {
			c.name(p+"."+end.side+".gateway", "gateway", end.e.Gateway, "ha-vpn-gw", maxName)
		}
		if end.e.Router == "" {
			c.add(p+"."+end.side, "names no router (the tunnels' BGP sessions need one on each side: add router: NAME)")
		}
	}
}

// linkEnd checks one side of a link and returns its VPC (nil if it does not exist).
func (c *checker) linkEnd(p string, e LinkEnd) *Network {
	n := c.network(p+".vpc", e.VPC)
	if n == nil || e.Router == "" {
		return n
	}
	if n.Router(e.Router) == nil {
		c.add(p+".router", "router %q is not in VPC %q (its routers: %s)", e.Router, n.Name, names(n.Routers, func(r *CloudRouter) string { return r.Name }))
	}
	return n
}

// peering checks a VPC peering: two GCP VPCs, no routers, no overlapping ranges.
func (c *checker) peering(p string, l Link, a, b *Network) {
	for _, end := range []struct {
		side string
		e    LinkEnd
		n    *Network
	}{{"a", l.A, a}, {"b", l.B, b}} {
		if end.e.Router != "" {
			c.add(p+"."+end.side+".router", "a peering has no router (remove router; routers are for interconnect and vpn links)")
		}
		if end.n != nil && !end.n.GCP() {
			c.add(p+"."+end.side+".vpc", "VPC %q is %s, and a peering joins two GCP VPCs (use an interconnect or vpn link)", end.n.Name, end.n.Cloud)
		}
	}
	if a == nil || b == nil || !a.GCP() || !b.GCP() {
		return
	}
	for _, ra := range c.ranges(c.vpcIndex(a)) {
		for _, rb := range c.ranges(c.vpcIndex(b)) {
			if ra.cidr.Overlaps(rb.cidr) {
				c.add(p, "peers VPCs %q and %q, whose ranges overlap: %s of %s (line %d) and %s of %s (line %d) (GCP refuses to peer overlapping ranges: change one of them)",
					a.Name, b.Name, ra.cidr, ra.label, c.loc.line(ra.path), rb.cidr, rb.label, c.loc.line(rb.path))
				return
			}
		}
	}
}

// attachment checks an interconnect or VPN: a GCP VPC on at least one side,
// and a router on each GCP side.
func (c *checker) attachment(p string, l Link, a, b *Network) {
	if a == nil || b == nil {
		return
	}
	if !a.GCP() && !b.GCP() {
		c.add(p+".b.vpc", "%s needs a GCP VPC on one side, and %q is %s and %q is %s (name a GCP VPC)", linkNoun(l.Type), a.Name, a.Cloud, b.Name, b.Cloud)
		return
	}
	for _, end := range []struct {
		side string
		e    LinkEnd
		n    *Network
	}{{"a", l.A, a}, {"b", l.B, b}} {
		if end.n.GCP() && end.e.Router == "" {
			c.add(p+"."+end.side+".router", "is required on the GCP side of %s (name a Cloud Router of VPC %q: %s)", linkNoun(l.Type), end.n.Name, names(end.n.Routers, func(r *CloudRouter) string { return r.Name }))
		}
	}
}

// vpcIndex is the index of n in spec.vpcs.
func (c *checker) vpcIndex(n *Network) int {
	for i, m := range c.t.Networks {
		if m == n {
			return i
		}
	}
	return -1
}

// ranges lists the valid primary and secondary ranges of spec.vpcs[i].
func (c *checker) ranges(i int) []labeledRange {
	var out []labeledRange
	p := at("spec.vpcs", i)
	for j, s := range c.t.Networks[i].Subnets {
		sp := at(p+".subnets", j)
		if s.CIDR.IsValid() {
			out = append(out, labeledRange{s.CIDR, sp + ".cidr", "subnet " + strconv.Quote(s.Name)})
		}
		for k, r := range s.Secondary {
			if r.CIDR.IsValid() {
				out = append(out, labeledRange{r.CIDR, at(sp+".secondaryRanges", k) + ".cidr", "secondary range " + strconv.Quote(r.Name) + " of subnet " + strconv.Quote(s.Name)})
			}
		}
	}
	return out
}

// linkNoun names a link type with its article, for messages.
func linkNoun(typ string) string {
	if typ == LinkVPN {
		return "a VPN"
	}
	return "an " + typ
}
