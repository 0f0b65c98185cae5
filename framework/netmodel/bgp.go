package netmodel

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"reachgate/framework/topology"
)

// bgpLink reports whether routes cross link l by BGP (Cloud Router sessions).
func bgpLink(l *topology.Connection) bool {
	return l.Type == topology.LinkInterconnect || l.Type == topology.LinkVPN
}

// regional reports whether a VPC uses REGIONAL dynamic routing. GCP's default routing mode is
// REGIONAL, so a gcp VPC without one is regional; other clouds have no such notion.
func regional(n *topology.Network) bool {
	return n.GCP() && n.RoutingMode != topology.RoutingGlobal
}

// learnDynamic records what each router announces over each interconnect and VPN and installs
// what the other side learns as DYNAMIC routes.
func (m *Model) learnDynamic() error {
	for _, l := range m.topo.Links {
		if !bgpLink(l) {
			continue
		}
		for _, s := range []sidedLink{{l, l.A, l.B}, {l, l.B, l.A}} {
			ps, err := m.announce(s.Me)
			if err != nil {
				return fmt.Errorf("link %q: %w", l.Name, err)
			}
			m.adv[advKey(l.Name, s.Me.VPC)] = ps
		}
		for _, s := range []sidedLink{{l, l.A, l.B}, {l, l.B, l.A}} {
			m.learn(s, m.adv[advKey(l.Name, s.Them.VPC)])
		}
	}
	return nil
}

// announce returns, sorted and without duplicates, what the router on side e announces.
func (m *Model) announce(e topology.Endpoint) ([]netip.Prefix, error) {
	n := m.nets[e.VPC]
	r := n.Router(e.Router)
	if r == nil {
		// A third-party side without a named router: its BGP speaker announces its subnets.
		return sortPrefixes(ownSubnets(n, "")), nil
	}
	// GCP: with REGIONAL dynamic routing a Cloud Router announces only the subnets of its own
	// region; with GLOBAL, the subnets of all regions.
	region := ""
	if regional(n) {
		region = r.Region
	}
	switch r.Advertise.Mode {
	case "", topology.AdvertiseDefault:
		// GCP: DEFAULT advertises the subnets of the router's own VPC only — never peered
		// ranges nor static routes.
		return sortPrefixes(ownSubnets(n, region)), nil
	case topology.AdvertiseCustom:
		// GCP: CUSTOM advertises exactly the listed groups and ranges; ALL_SUBNETS stands
		// for what DEFAULT would have announced.
		var out []netip.Prefix
		for _, g := range r.Advertise.Groups {
			if g != topology.GroupAllSubnets {
				return nil, fmt.Errorf("router %q: advertisement group %q is not supported; supported: %s",
					r.Name, g, topology.GroupAllSubnets)
			}
			out = append(out, ownSubnets(n, region)...)
		}
		for _, p := range r.Advertise.Ranges {
			if !p.IsValid() {
				return nil, fmt.Errorf("router %q: invalid advertised range", r.Name)
			}
			out = append(out, p.Masked())
		}
		return sortPrefixes(out), nil
	}
	return nil, fmt.Errorf("router %q: advertisement mode %q is not supported; supported: %s, %s",
		r.Name, r.Advertise.Mode, topology.AdvertiseDefault, topology.AdvertiseCustom)
}

// ownSubnets returns the primary and secondary ranges of n's subnets in region ("" = all).
func ownSubnets(n *topology.Network, region string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range n.Subnets {
		if region != "" && s.Region != region {
			continue
		}
		for _, p := range s.Prefixes() {
			out = append(out, p.Masked())
		}
	}
	return out
}

func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, netip.Prefix.Compare)
	return slices.Compact(ps)
}

// learn installs, in s.Me's VPC, the prefixes announced by s.Them over s.
func (m *Model) learn(s sidedLink, announced []netip.Prefix) {
	n := m.nets[s.Me.VPC]
	// GCP: a REGIONAL VPC applies learned routes only in the region of the Cloud Router that
	// learned them; a GLOBAL VPC applies them in every region.
	region := ""
	if regional(n) {
		region = n.Router(s.Me.Router).Region
	}
	from := speaker(s.Them)
	note := fmt.Sprintf("learned from %s over %s %s", from, s.Type, s.Name)
	if region != "" {
		note += fmt.Sprintf(" by %s; applies only in %s (REGIONAL routing mode)", s.Me.Router, region)
	}
	origin := s.Them.VPC
	if s.Them.Router != "" {
		origin += "/" + s.Them.Router
	}
	for _, p := range announced {
		// GCP: dynamic routes take only destinations that do not conflict with (equal or fit
		// within) a subnet range of the VPC; Cloud Router ignores such prefixes.
		if _, clash := subnetCovering(m.routes[n.Name], p); clash {
			continue
		}
		m.routes[n.Name] = append(m.routes[n.Name], Route{
			VPC: n.Name, Prefix: p, Type: Dynamic, Link: s.Name, NextHopVPC: s.Them.VPC,
			Region: region, Priority: DefaultDynamicPriority, Origin: origin, Note: note,
		})
	}
}

// speaker names the BGP speaker on side e for notes.
func speaker(e topology.Endpoint) string {
	if e.Router != "" {
		return e.Router
	}
	return e.VPC + "'s router"
}

// subnetCovering returns the local SUBNET route among rs that equals or contains p.
func subnetCovering(rs []Route, p netip.Prefix) (Route, bool) {
	for _, r := range rs {
		if r.Type == Subnet && r.Prefix.Bits() <= p.Bits() && r.Prefix.Contains(p.Addr()) {
			return r, true
		}
	}
	return Route{}, false
}

// describeAdvertisement says in plain words what side e announces over link, for explanations.
func (m *Model) describeAdvertisement(link string, e topology.Endpoint) string {
	n := m.nets[e.VPC]
	ps := m.adv[advKey(link, e.VPC)]
	list := joinPrefixes(ps)
	r := n.Router(e.Router)
	if r == nil || !n.GCP() && r.Advertise.Mode != topology.AdvertiseCustom {
		return fmt.Sprintf("%s announces only %s's subnets (%s)", speaker(e), n.Name, list)
	}
	scope := "all its subnets"
	if regional(n) {
		scope = fmt.Sprintf("only its subnets in %s (REGIONAL routing mode)", r.Region)
	}
	if r.Advertise.Mode == topology.AdvertiseCustom {
		groups := "no groups"
		if len(r.Advertise.Groups) > 0 {
			groups = strings.Join(r.Advertise.Groups, ", ")
		}
		return fmt.Sprintf("%s's CUSTOM advertisement (%s; ranges %s) announces %s", r.Name, groups,
			joinPrefixes(r.Advertise.Ranges), list)
	}
	return fmt.Sprintf("%s's DEFAULT advertisement announces %s (%s), never peered ranges or "+
		"learned routes", r.Name, scope, list)
}

func joinPrefixes(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "nothing"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
