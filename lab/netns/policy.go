package netns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
)

// HostIf is the router-side interface of the i-th host (file order).
func HostIf(i int) string { return fmt.Sprintf("h%d", i) }

// via is the `ip route` body sending rt's prefix across its link.
func (p *Plan) via(rt netmodel.Route) string {
	return fmt.Sprintf("%s via %s dev %s", rt.Prefix, p.LinkAddr[rt.Link][rt.NextHopVPC], p.LinkIf[rt.Link])
}

// Program installs in every router namespace the routes and filters the model computes,
// replacing what an earlier Program installed (routes added without a protocol, "boot", the
// region rules and the filter table) and leaving alone what others own: connected routes and
// the routes BGP speakers install with their own protocol. t is the topology as declared
// (it names every interface); m may be computed from a changed one (a solution applied).
// A namespace that still holds what Program installed last, unchanged, is left as it is
// (see programmed).
func Program(ctx context.Context, p *Plan, t *topology.Topology, m *netmodel.Model) error {
	for _, n := range t.Networks {
		ns := p.Routers[n.Name]
		main := routeSpecs(p, t, m, n.Name)
		var lines []string
		for _, spec := range main {
			lines = append(lines, "route replace "+spec)
		}
		lines = append(lines, regionTables(p, t, m, n.Name, main)...)
		filter := filterScript(p, t, m, n.Name)
		sum, record := programSum(lines, filter), programRecord(p.Lab, ns)
		if unchanged(record, ns, sum) {
			continue
		}
		forget(record)
		// Undo the previous program; `-force` goes on past "nothing to delete".
		undo := []string{"route flush proto boot"}
		for i := range maxRegions {
			undo = append(undo, fmt.Sprintf("route flush table %d proto boot", regionTableBase+i))
		}
		rules, _ := run(ctx, "", "ip", "-n", ns, "rule", "list", "pref", fmt.Sprint(regionRulePref))
		for range strings.Count(rules, "\n") {
			undo = append(undo, fmt.Sprintf("rule del pref %d", regionRulePref))
		}
		_, _ = run(ctx, strings.Join(undo, "\n")+"\n", "ip", "-n", ns, "-force", "-batch", "-")
		b := &batch{ns: ns, lines: lines}
		if err := b.run(ctx); err != nil {
			return err
		}
		if filter != "" {
			if _, err := Nft(ctx, ns, filter); err != nil {
				return fmt.Errorf("install firewall of vpc %s: %w", n.Name, err)
			}
		}
		remember(record, ns, sum)
	}
	return nil
}

// routeSpecs is vpc's main table as `ip route` bodies: blackholes for the default and every
// subnet range (an address no host holds is dropped, not bounced), a /32 per host (and its
// pod range for a node), and the routes over links that apply VPC-wide. Routes over a link
// a solution creates are the BGP speakers' to install.
func routeSpecs(p *Plan, t *topology.Topology, m *netmodel.Model, vpc string) []string {
	out := []string{"blackhole default"}
	for _, s := range t.Network(vpc).Subnets {
		for _, pfx := range s.Prefixes() {
			out = append(out, fmt.Sprintf("blackhole %s", pfx))
		}
	}
	for _, h := range t.Hosts {
		if h.VPC != vpc {
			continue
		}
		out = append(out, fmt.Sprintf("%s/32 dev %s", h.IP, p.HostIfs[h.Name]))
		if pods, ok := nodePods(t, h.Name); ok {
			// The node's alias range (its pods) is delivered to the node, which forwards to pods.
			out = append(out, fmt.Sprintf("%s via %s dev %s", pods, h.IP, p.HostIfs[h.Name]))
		}
	}
	for _, rt := range m.EffectiveIn(vpc, "") {
		switch {
		case rt.Gateway != "":
			if via, ok := p.GoogleAPIsVia[vpc]; ok {
				out = append(out, fmt.Sprintf("%s via %s dev %s", rt.Prefix, via, googleAPIsIf))
			}
		case rt.Link != "" && !bgpLive(t, rt.Link):
			out = append(out, p.via(rt))
		}
	}
	return out
}

// bgpLive reports whether routes over link are learned by real BGP speakers (a link a
// solution creates) rather than programmed from the model.
func bgpLive(t *topology.Topology, link string) bool {
	l := t.Link(link)
	return l != nil && l.Solution != ""
}

// RegionTable returns the routing table of vpc's router namespace that holds the routes for
// traffic entering in region: a region table when the model has regional routes there, else
// main (254). BGP speakers install their learned routes there.
func RegionTable(m *netmodel.Model, vpc, region string) int {
	for i, r := range m.Regions(vpc) {
		if r == region && i < maxRegions {
			return regionTableBase + i
		}
	}
	return mainTable
}

// Routing tables and rule preferences for regional routes.
const (
	regionTableBase = 100
	regionRulePref  = 150 // after lab/wan's rules (100, 101), so impaired links stay impaired
	maxRegions      = 16
	mainTable       = 254
)

// regionTables returns the `ip` batch lines that give vpc one routing table per region with
// regional routes (GCP REGIONAL dynamic routing), and the rules that pick it by where the
// packet came from: a host's interface gives the host's region; a link gives the region
// netmodel says traffic from each source range enters in (for a peering, GCP keeps the
// region the packet had; for an interconnect or VPN, it is the attachment's region). Each
// region table repeats main (the routes that apply everywhere) so the longest match is
// chosen across both, as GCP does. Traffic of no known region uses main only.
func regionTables(p *Plan, t *topology.Topology, m *netmodel.Model, vpc string, main []string) []string {
	regions := m.Regions(vpc)
	if len(regions) == 0 {
		return nil
	}
	var out []string
	table := map[string]int{}
	for i, region := range regions[:min(len(regions), maxRegions)] {
		id := regionTableBase + i
		table[region] = id
		for _, spec := range main {
			out = append(out, fmt.Sprintf("route replace %s table %d", spec, id))
		}
		for _, rt := range m.EffectiveIn(vpc, region) {
			if rt.Region == region && !bgpLive(t, rt.Link) {
				out = append(out, fmt.Sprintf("route replace %s table %d", p.via(rt), id))
			}
		}
	}
	for _, h := range t.Hosts {
		if id, ok := table[h.Region]; ok && h.VPC == vpc {
			out = append(out, fmt.Sprintf("rule add iif %s lookup %d pref %d", p.HostIfs[h.Name], id, regionRulePref))
		}
	}
	for _, e := range m.Entries(vpc) {
		// Traffic arriving over a solution's tunnels comes from interfaces the realizer does
		// not name; it is routed by the main table.
		if id, ok := table[e.Region]; ok && e.Link != "" && !bgpLive(t, e.Link) {
			out = append(out, fmt.Sprintf("rule add iif %s from %s lookup %d pref %d", p.LinkIf[e.Link], e.Source, id, regionRulePref))
		}
	}
	return out
}

// filterTable is the nft table (family ip) of a router namespace holding the VPC firewall
// and the control plane's authorized networks.
const filterTable = "rg_filter"

// filterScript renders vpc's forward filter: per instance interface, the ingress firewall
// rules in evaluation order (first match decides, as GCP's priority order does) ending in the
// implied deny; and at the control plane's interface, the authorized networks (and for a
// Private Service Connect endpoint, its region's sources instead of the firewall). Replies pass
// (GCP firewalls are stateful), and connections the internal load balancer forwarded pass
// too: GKE creates a k8s-fw rule for each LoadBalancer Service that allows its
// loadBalancerSourceRanges (default all) on the Service's ports.
func filterScript(p *Plan, t *topology.Topology, m *netmodel.Model, vpc string) string {
	rules := m.FirewallRules(vpc)
	authorized, enforced := m.AuthorizedSources()
	var chains []string
	var jumps []string
	for _, h := range t.Hosts {
		if h.VPC != vpc {
			continue
		}
		var body []string
		switch {
		case h.Role == topology.RoleControlPlane && t.Cluster != nil && t.Cluster.PSC && h.IP == t.Cluster.PrivateEndpoint:
			// A Private Service Connect endpoint: no VPC firewall; the region's clients only,
			// unless global access is on; then the authorized networks.
			if regional, limited := m.PSCSources(); limited {
				body = append(body, fmt.Sprintf("ip saddr != %s drop comment \"psc-global-access\"", nftSet(regional)))
			}
			if enforced {
				body = append(body, fmt.Sprintf("ip saddr != %s drop comment \"authorized-networks\"", nftSet(authorized)))
			}
			body = append(body, "accept")
		case h.Role == topology.RoleControlPlane && enforced && t.Cluster != nil && h.IP == t.Cluster.PrivateEndpoint:
			body = append(body, fmt.Sprintf("ip saddr %s accept", nftSet(authorized)), "drop")
		case firewalledVPC(t, vpc):
			for _, r := range rules {
				if !r.AppliesTo(h) {
					continue
				}
				verdict := "accept"
				if r.Deny {
					verdict = "drop"
				}
				for _, pr := range r.Ports {
					body = append(body, fmt.Sprintf("ip saddr %s %s%s comment %q", nftSet(r.Sources), nftPorts(pr), verdict, r.Name))
				}
			}
			body = append(body, `drop comment "implied-deny-ingress"`)
		default:
			continue
		}
		chain := "in_" + p.HostIfs[h.Name]
		chains = append(chains, fmt.Sprintf("\tchain %s {\n\t\t%s\n\t}\n", chain, strings.Join(body, "\n\t\t")))
		jumps = append(jumps, fmt.Sprintf("\t\toifname %q jump %s\n", p.HostIfs[h.Name], chain))
	}
	if len(chains) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "add table ip %s\ndelete table ip %s\ntable ip %s {\n", filterTable, filterTable, filterTable)
	b.WriteString(strings.Join(chains, ""))
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	b.WriteString("\t\tct state established,related accept\n\t\tct status dnat accept\n")
	b.WriteString(strings.Join(jumps, ""))
	b.WriteString("\t}\n}\n")
	return b.String()
}

// firewalledVPC reports whether vpc's instances sit behind GCP firewall rules (customer GCP
// VPCs), so even with no rule the implied deny applies.
func firewalledVPC(t *topology.Topology, vpc string) bool {
	n := t.Network(vpc)
	return n != nil && n.GCP() && n.ManagedBy == ""
}

// nftSet writes prefixes as an anonymous nft set of disjoint ranges (nft refuses overlaps).
func nftSet(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "{ 0.0.0.0/32 }" // matches nothing real: an empty list allows nobody
	}
	var s []string
	for _, p := range netmodel.Outermost(ps) {
		s = append(s, p.String())
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

// nftPorts is the match for one protocol/port range, with a trailing space when not empty.
func nftPorts(p topology.PortRange) string {
	switch {
	case p.Proto == "all":
		return ""
	case p.Proto == "icmp":
		return "ip protocol icmp "
	case p.Lo == 0:
		return fmt.Sprintf("ip protocol %s ", p.Proto)
	case p.Lo == p.Hi:
		return fmt.Sprintf("%s dport %d ", p.Proto, p.Lo)
	}
	return fmt.Sprintf("%s dport %d-%d ", p.Proto, p.Lo, p.Hi)
}
