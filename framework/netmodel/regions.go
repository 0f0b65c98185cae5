package netmodel

import (
	"net/netip"
	"slices"
)

// Regions lists the regions whose traffic vpc routes differently from traffic of unknown
// region: the regions of its regional routes, sorted. Empty when every route applies
// VPC-wide, which is the common case (GLOBAL routing, or no dynamic routes).
func (m *Model) Regions(vpc string) []string {
	var out []string
	for _, r := range m.Effective(vpc) {
		if r.Region != "" && !slices.Contains(out, r.Region) {
			out = append(out, r.Region)
		}
	}
	slices.Sort(out)
	return out
}

// EffectiveIn returns the routes of vpc used for traffic that entered in region ("" = region
// unknown: only routes that apply VPC-wide).
func (m *Model) EffectiveIn(vpc, region string) []Route {
	var out []Route
	for _, r := range m.Effective(vpc) {
		if r.AppliesIn(region) {
			out = append(out, r)
		}
	}
	return out
}

// Entry is how traffic from one source range enters a VPC: over which link (or from a local
// subnet, Link "") and in which region GCP treats it as entering.
type Entry struct {
	Source netip.Prefix
	Link   string
	Region string
}

// Entries lists, for every subnet range of the topology whose traffic reaches vpc, the link
// it arrives over and its region. Ranges of vpc itself arrive from their subnet (Link "").
func (m *Model) Entries(vpc string) []Entry {
	target, ok := m.someAddress(vpc)
	if !ok {
		return nil
	}
	var out []Entry
	for _, n := range m.topo.Networks {
		for _, s := range n.Subnets {
			for _, p := range s.Prefixes() {
				if n.Name == vpc {
					out = append(out, Entry{Source: p, Region: s.Region})
					continue
				}
				from := place{addr: p.Addr(), vpc: n.Name, subnet: s.Name, region: s.Region}
				if e, ok := m.arrival(from, target, vpc); ok {
					e.Source = p
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// EntryRegion returns the region in which a packet from src is treated as entering vpc, and
// false when src's traffic does not reach vpc.
func (m *Model) EntryRegion(src netip.Addr, vpc string) (string, bool) {
	from, ok := m.locate(src)
	if !ok {
		return "", false
	}
	if from.vpc == vpc {
		return from.region, true
	}
	target, ok := m.someAddress(vpc)
	if !ok {
		return "", false
	}
	e, ok := m.arrival(from, target, vpc)
	return e.Region, ok
}

// arrival walks from `from` toward `to` (an address of vpc) and reports how it entered vpc.
func (m *Model) arrival(from, to place, vpc string) (Entry, bool) {
	p := m.walk(from, to)
	for i := 1; i < len(p.Hops); i++ {
		if p.Hops[i].VPC == vpc {
			return Entry{Link: p.Hops[i-1].Route.Link, Region: p.Hops[i].Region}, true
		}
	}
	return Entry{}, false
}

// someAddress is an address of vpc to walk toward: its first subnet's.
func (m *Model) someAddress(vpc string) (place, bool) {
	n := m.nets[vpc]
	if n == nil || len(n.Subnets) == 0 {
		return place{}, false
	}
	s := n.Subnets[0]
	return place{addr: s.CIDR.Addr().Next(), vpc: vpc, subnet: s.Name, region: s.Region}, true
}

// ILBAdmits reports whether an internal passthrough load balancer in vpc and region accepts a
// client at src. GCP: clients must be in the LB's region — including clients arriving over a
// VPN tunnel or VLAN attachment, whose region is the attachment's — unless global access is on.
func (m *Model) ILBAdmits(vpc, region string, globalAccess bool, src netip.Addr) (bool, string) {
	entered, ok := m.EntryRegion(src, vpc)
	switch {
	case !ok:
		return false, src.String() + "'s traffic does not reach vpc " + vpc
	case globalAccess || entered == region:
		return true, ""
	}
	where := "in " + entered
	if entered == "" {
		where = "with no region"
	}
	return false, src.String() + " enters vpc " + vpc + " " + where + ", and the internal load balancer is regional (" + region +
		") without global access (annotate the Service with networking.gke.io/internal-load-balancer-allow-global-access: \"true\")"
}

// ILBSources returns the source ranges an internal LB in vpc and region admits: every subnet
// range of the topology whose traffic enters vpc in region (all of them with global access).
func (m *Model) ILBSources(vpc, region string, globalAccess bool) []netip.Prefix {
	var out []netip.Prefix
	for _, e := range m.Entries(vpc) {
		if globalAccess || e.Region == region {
			out = append(out, e.Source)
		}
	}
	return sortPrefixes(out)
}

// Outermost returns ps without the prefixes that lie inside another one (and without
// repeats), sorted: the same addresses as a set of disjoint ranges, as nft sets need.
func Outermost(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range sortPrefixes(slices.Clone(ps)) {
		p = p.Masked()
		if !slices.ContainsFunc(ps, func(q netip.Prefix) bool { return q.Bits() < p.Bits() && q.Masked().Contains(p.Addr()) }) {
			out = append(out, p)
		}
	}
	return slices.Compact(out)
}
