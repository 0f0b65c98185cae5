package netmodel

import (
	"fmt"
	"net/netip"
	"strings"

	"reachgate/framework/topology"
)

// whyNoRoute explains, for a platform engineer, why vpc has no route to `to` for traffic that
// entered in region. It looks at vpc's own table, then at each neighbour not already on the
// path: does the neighbour know the destination, and which GCP rule keeps it from passing it on?
func (m *Model) whyNoRoute(vpc string, to place, region string, path []Hop) string {
	head := fmt.Sprintf("%s VPC has no route to %s", vpc, to.addr)
	visited := map[string]bool{vpc: true}
	for _, h := range path {
		visited[h.VPC] = true
	}
	if why := m.diagnose(vpc, to.addr, region, visited); why != "" {
		return head + ": " + why
	}
	return fmt.Sprintf("%s: %s is in subnet %s of vpc %s, and no peering, interconnect or VPN brings that range to %s",
		head, to.addr, to.subnet, to.vpc, vpc)
}

// diagnose returns why vpc lacks a usable route to dst, or "" if nothing it or its neighbours
// know explains it. visited stops the search from walking back.
func (m *Model) diagnose(vpc string, dst netip.Addr, region string, visited map[string]bool) string {
	var parts []string
	for _, r := range m.routes[vpc] {
		if !r.Prefix.Contains(dst) {
			continue
		}
		switch {
		case !r.Effective():
			parts = append(parts, fmt.Sprintf("its %s route %s is not used (%s)", r.Type.words(), r.Prefix, r.Note))
		case !r.AppliesIn(region):
			parts = append(parts, regionWhy(r, region))
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	for _, s := range m.linksOf(vpc) {
		if visited[s.Them.VPC] {
			continue
		}
		var why string
		if s.Type == topology.LinkPeering {
			why = m.whyNotOverPeering(s, dst, region, visited)
		} else {
			why = m.whyNotOverBGP(s, dst, region, visited)
		}
		if why != "" {
			parts = append(parts, why)
		}
	}
	return strings.Join(parts, "; ")
}

// regionWhy explains a regional route that does not apply to this packet.
func regionWhy(r Route, region string) string {
	// GCP: REGIONAL dynamic routing applies a learned route only in the learning router's
	// region; over a peering the EXPORTING network's mode decides.
	mode := r.VPC
	if r.Type == PeeringDynamic {
		mode = r.NextHopVPC
	}
	entered := "in " + region
	if region == "" {
		entered = "with no region (it arrived over a link with no router on this side)"
	}
	return fmt.Sprintf("its %s route %s over %s applies only to traffic entering in %s because %s uses REGIONAL "+
		"dynamic routing, but this packet entered %s (set %s's routing mode to GLOBAL)",
		r.Type.words(), r.Prefix, r.Link, r.Region, mode, entered, mode)
}

// whyNotOverPeering explains why peering s does not bring a route to dst into s.Me's VPC.
func (m *Model) whyNotOverPeering(s sidedLink, dst netip.Addr, region string, visited map[string]bool) string {
	them := s.Them.VPC
	nr, ok := bestCovering(m.routes[them], dst)
	if !ok {
		visited[them] = true
		sub := m.diagnose(them, dst, region, visited)
		if sub == "" {
			return ""
		}
		why := fmt.Sprintf("%s VPC (peered over %s) has no route to %s either: %s", them, s.Name, dst, sub)
		if fp := customFlagProblem(s); fp != "" {
			why += "; and even if it had one, " + fp
		}
		return why
	}
	switch nr.Type {
	case PeeringSubnet, PeeringStatic, PeeringDynamic:
		if nr.NextHopVPC == s.Me.VPC {
			return ""
		}
		// GCP: peering is not transitive.
		return fmt.Sprintf("%s is a %s route in %s (imported over %s), and routes learned over a peering are "+
			"not passed on to a third network (peering is not transitive)", nr.Prefix, nr.Type.words(), them, nr.Link)
	case Static, Dynamic:
		// GCP: custom routes need exportCustomRoutes on the exporter and importCustomRoutes on
		// the importer.
		if fp := customFlagProblem(s); fp != "" {
			return fmt.Sprintf("%s is a %s route in %s (%s), but %s", nr.Prefix, nr.Type.words(), them, nr.Note, fp)
		}
	}
	// Subnet routes always cross; a missing one was rejected locally and is reported above.
	return ""
}

// whyNotOverBGP explains why interconnect or VPN s does not bring a route to dst into s.Me's VPC.
func (m *Model) whyNotOverBGP(s sidedLink, dst netip.Addr, region string, visited map[string]bool) string {
	them := s.Them.VPC
	adv := m.adv[advKey(s.Name, them)]
	for _, p := range adv {
		if p.Contains(dst) {
			return "" // announced: a gap here is regional or a local conflict, reported above
		}
	}
	nr, ok := bestCovering(m.routes[them], dst)
	if !ok {
		visited[them] = true
		sub := m.diagnose(them, dst, region, visited)
		if sub == "" {
			return ""
		}
		return fmt.Sprintf("nothing %s announces over %s %s covers it (%s), and %s VPC has no route to %s: %s",
			speaker(s.Them), s.Type, s.Name, joinPrefixes(adv), them, dst, sub)
	}
	if nr.NextHopVPC == s.Me.VPC {
		return "" // it leads back here
	}
	why := fmt.Sprintf("%s has a %s route %s but does not announce it over %s %s: %s",
		them, nr.Type.words(), nr.Prefix, s.Type, s.Name, m.describeAdvertisement(s.Name, s.Them))
	if n := m.nets[them]; n.GCP() {
		why += " (" + advertiseHint(n, s.Them.Router, nr.Prefix) + ")"
	}
	return why
}

// advertiseHint says how router (of gcp VPC n) comes to announce p.
func advertiseHint(n *topology.Network, router string, p netip.Prefix) string {
	// GCP: only a CUSTOM advertisement announces ranges other than the VPC's own subnets.
	// Private services access: producer subnets are carved from the VPC's allocated range;
	// announcing the whole range covers every one of them, now and later.
	want := p.String()
	for _, a := range n.Allocated {
		if a.CIDR.IsValid() && a.CIDR.Bits() <= p.Bits() && a.CIDR.Contains(p.Addr()) {
			want = fmt.Sprintf("%s, allocated range %s, which holds %s,", a.CIDR, a.Name, p)
			break
		}
	}
	if r := n.Router(router); r != nil && r.Advertise.Mode == topology.AdvertiseCustom {
		return fmt.Sprintf("add %s to the ranges of %s's CUSTOM advertisement", want, router)
	}
	return fmt.Sprintf("list %s in a CUSTOM advertisement on %s, with group ALL_SUBNETS to keep the subnets", want, router)
}

// bestCovering returns the most specific effective route in rs containing dst, in any region.
func bestCovering(rs []Route, dst netip.Addr) (Route, bool) {
	var best Route
	found := false
	for _, r := range rs {
		if r.Effective() && r.Prefix.Contains(dst) && (!found || better(r, best)) {
			best, found = r, true
		}
	}
	return best, found
}
