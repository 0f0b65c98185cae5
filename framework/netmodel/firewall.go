package netmodel

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"reachgate/framework/topology"
)

// Flow is what a connection is beyond its addresses: the protocol and destination port that
// firewall rules and authorized networks judge. The zero Flow judges routing only.
type Flow struct {
	Proto string // "tcp", "udp" or "icmp"; "" = routing only
	Port  uint16 // destination port (tcp, udp)
}

// String writes the flow as "tcp:443".
func (f Flow) String() string {
	if f.Port == 0 {
		return f.Proto
	}
	return fmt.Sprintf("%s:%d", f.Proto, f.Port)
}

// ParseFlow reads "tcp:443", "udp:53" or "icmp".
func ParseFlow(s string) (Flow, error) {
	p, msg := topology.ParsePortRange(s)
	single := p.Proto == "icmp" || (p.Lo != 0 && p.Lo == p.Hi)
	if msg != "" || !single {
		return Flow{}, fmt.Errorf("%q is not one protocol and port (write tcp:443, udp:53 or icmp)", s)
	}
	return Flow{Proto: p.Proto, Port: p.Lo}, nil
}

// FirewallRule is an ingress rule as the model applies it: a VPC's own rule, or one GKE
// creates for the cluster.
type FirewallRule struct {
	VPC        string
	Name       string
	Deny       bool
	Priority   int
	Sources    []netip.Prefix
	Ports      []topology.PortRange
	TargetTags []string // nil = every instance
	TargetRole string   // "" = any; topology.RoleNode for GKE's rules
	Note       string   // where it comes from
}

// matches reports whether r applies to a packet from src of flow f to instance h.
func (r *FirewallRule) matches(h *topology.Machine, src netip.Addr, f Flow) bool {
	if r.TargetRole != "" && h.Role != r.TargetRole {
		return false
	}
	if r.TargetTags != nil && !slices.ContainsFunc(r.TargetTags, func(t string) bool { return slices.Contains(h.Tags, t) }) {
		return false
	}
	if !slices.ContainsFunc(r.Sources, func(p netip.Prefix) bool { return p.Contains(src) }) {
		return false
	}
	return slices.ContainsFunc(r.Ports, func(p topology.PortRange) bool { return p.Matches(f.Proto, f.Port) })
}

// AppliesTo reports whether the rule targets instance h (whatever the packet).
func (r *FirewallRule) AppliesTo(h *topology.Machine) bool {
	if r.TargetRole != "" && h.Role != r.TargetRole {
		return false
	}
	return r.TargetTags == nil || slices.ContainsFunc(r.TargetTags, func(t string) bool { return slices.Contains(h.Tags, t) })
}

func (r *FirewallRule) action() string {
	if r.Deny {
		return "deny"
	}
	return "allow"
}

func (r *FirewallRule) describe() string {
	ports := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		ports[i] = p.String()
	}
	return fmt.Sprintf("firewall rule %s of vpc %s (%s, priority %d, sources %s, ports %s)",
		r.Name, r.VPC, r.action(), r.Priority, joinPrefixes(r.Sources), strings.Join(ports, ","))
}

// firewalled reports whether the VPC's instances are behind GCP firewall rules: customer GCP
// VPCs. The Google-owned master VPC is not (authorized networks guard the endpoint there), and
// other clouds' security groups are not modelled.
func firewalled(n *topology.Network) bool { return n.GCP() && n.ManagedBy == "" }

// FirewallRules returns the ingress rules of vpc in evaluation order (priority, then deny
// before allow, then name): the VPC's own rules plus those GKE creates for a cluster there.
// GCP's implied deny-ingress rule is not listed; it applies when none matches.
func (m *Model) FirewallRules(vpc string) []FirewallRule {
	n := m.nets[vpc]
	if n == nil || !firewalled(n) {
		return nil
	}
	var out []FirewallRule
	for _, r := range n.Firewall {
		out = append(out, FirewallRule{VPC: vpc, Name: r.Name, Deny: r.Deny, Priority: r.Priority,
			Sources: r.Sources, Ports: r.Ports, TargetTags: r.TargetTags, Note: "declared in the topology"})
	}
	if c := m.topo.Cluster; c != nil && c.VPC == vpc {
		out = append(out, gkeRules(c)...)
	}
	slices.SortStableFunc(out, func(a, b FirewallRule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), -cmp.Compare(btoi(a.Deny), btoi(b.Deny)), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gkeRules are the ingress rules GKE creates for a cluster's nodes: gke-<cluster>-all (from
// the pod range), -vms (from the node range) and -master (from the master range, tcp 443 and
// 10250). Rules GKE creates for LoadBalancer Services (k8s-fw-…) follow each Service and are
// applied by the load balancer itself.
func gkeRules(c *topology.GKECluster) []FirewallRule {
	all := []topology.PortRange{{Proto: "all"}}
	var out []FirewallRule
	add := func(suffix string, src netip.Prefix, ports []topology.PortRange) {
		if !src.IsValid() {
			return
		}
		out = append(out, FirewallRule{VPC: c.VPC, Name: "gke-" + c.Name + "-" + suffix, Priority: topology.DefaultFirewallPriority,
			Sources: []netip.Prefix{src}, Ports: ports, TargetRole: topology.RoleNode,
			Note: "created by GKE for cluster " + c.Name})
	}
	add("all", c.PodRange, all)
	add("vms", c.NodeRange, []topology.PortRange{{Proto: "tcp", Lo: 1, Hi: 65535}, {Proto: "udp", Lo: 1, Hi: 65535}, {Proto: "icmp"}})
	add("master", c.MasterCIDR, []topology.PortRange{{Proto: "tcp", Lo: 443, Hi: 443}, {Proto: "tcp", Lo: 10250, Hi: 10250}})
	return out
}

// Instance returns the host that receives packets for dst: the host with that address, or
// the GKE node whose alias range (pods) holds it.
func (m *Model) Instance(dst netip.Addr) *topology.Machine {
	for _, h := range m.topo.Hosts {
		if h.IP == dst {
			return h
		}
	}
	if c := m.topo.Cluster; c != nil {
		for i, name := range c.Nodes {
			if p, ok := c.NodePodCIDR(i); ok && p.Contains(dst) {
				return m.topo.Host(name)
			}
		}
	}
	return nil
}

// Admission is the verdict of the checks a delivered packet meets at its destination.
type Admission struct {
	Allowed bool
	Rule    string // the deciding rule's name ("" when nothing applies)
	Reason  string // plain words
}

// Admit judges a packet from src of flow f delivered to dst: the destination VPC's ingress
// firewall (GCP: highest priority matching rule wins, deny before allow at equal priority,
// else the implied deny-ingress rule; egress is allowed by the implied allow-egress rule, and
// firewalls are stateful, so replies pass) and, at the control plane, master authorized
// networks.
func (m *Model) Admit(src, dst netip.Addr, f Flow) Admission {
	return m.admitTo(src, dst, m.Instance(dst), f)
}

// admitTo is Admit at h, the instance that holds dst (nil: none).
func (m *Model) admitTo(src, dst netip.Addr, h *topology.Machine, f Flow) Admission {
	if f.Proto == "" {
		return Admission{Allowed: true, Reason: "ports not judged"}
	}
	if h == nil {
		return Admission{Allowed: true, Reason: fmt.Sprintf("%s is not an instance's address; no firewall applies", dst)}
	}
	if c := m.topo.Cluster; c != nil && c.PSC && h.Role == topology.RoleControlPlane && dst == c.PrivateEndpoint {
		return m.admitPSC(src, dst, h)
	}
	auth := m.authorized(src, dst, h)
	if !auth.Allowed {
		return auth
	}
	n := m.nets[h.VPC]
	if n == nil || !firewalled(n) {
		if auth.Rule != "" {
			return auth
		}
		if n != nil && n.GCP() {
			// The Google-managed VPCs (GKE's master VPC, a Private Service Access producer
			// VPC) hold no customer firewall rules.
			return Admission{Allowed: true, Reason: fmt.Sprintf("vpc %s is managed by %s and has no customer firewall rules", h.VPC, n.ManagedBy)}
		}
		return Admission{Allowed: true, Reason: fmt.Sprintf("vpc %s has no GCP firewall", h.VPC)}
	}
	for _, r := range m.FirewallRules(h.VPC) {
		if !r.matches(h, src, f) {
			continue
		}
		if r.Deny {
			return Admission{Rule: r.Name, Reason: fmt.Sprintf("%s denies %s to %s on %s (%s)", r.describe(), src, h.Name, f, r.Note)}
		}
		return Admission{Allowed: true, Rule: r.Name, Reason: fmt.Sprintf("%s allows %s to %s on %s", r.describe(), src, h.Name, f)}
	}
	// GCP: every VPC has an implied deny-ingress rule at priority 65535.
	return Admission{Rule: "implied-deny-ingress", Reason: fmt.Sprintf("no firewall rule of vpc %s allows %s to reach %s on %s, "+
		"so the implied deny-ingress rule (priority %d) drops it (add an allow rule with a source range containing %s "+
		"and ports %s that targets %s)", h.VPC, src, h.Name, f, topology.ImpliedRulePriority, src, f, h.Name)}
}

// AuthorizedSources returns the sources the control plane accepts on its private endpoint, and
// whether the list is enforced there at all.
func (m *Model) AuthorizedSources() ([]netip.Prefix, bool) {
	c := m.topo.Cluster
	if c == nil || c.Authorized == nil || !c.Authorized.PrivateEndpointEnforcement {
		return nil, false
	}
	out := slices.Clone(c.Authorized.CIDRBlocks)
	// GKE: the cluster's node range and pod range may always reach the control plane.
	for _, p := range []netip.Prefix{c.NodeRange, c.PodRange} {
		if p.IsValid() {
			out = append(out, p)
		}
	}
	return sortPrefixes(out), true
}

// authorized applies master authorized networks to packets for the control plane.
func (m *Model) authorized(src, dst netip.Addr, h *topology.Machine) Admission {
	c := m.topo.Cluster
	if c == nil || dst != c.PrivateEndpoint || h.Role != topology.RoleControlPlane {
		return Admission{Allowed: true}
	}
	allowed, on := m.AuthorizedSources()
	if !on {
		return Admission{Allowed: true}
	}
	if slices.ContainsFunc(allowed, func(p netip.Prefix) bool { return p.Contains(src) }) {
		return Admission{Allowed: true, Rule: "authorized-networks", Reason: fmt.Sprintf("%s is in the master authorized networks of cluster %s", src, c.Name)}
	}
	return Admission{Rule: "authorized-networks", Reason: fmt.Sprintf("%s is not in the master authorized networks of cluster %s "+
		"(cidrBlocks %s; privateEndpointEnforcement is on, so they apply to the private endpoint %s, and only the node range %s "+
		"and pod range %s are always allowed): add a range containing %s to cidrBlocks",
		src, c.Name, joinPrefixes(c.Authorized.CIDRBlocks), c.PrivateEndpoint, c.NodeRange, c.PodRange, src)}
}

// admitPSC judges a packet for a Private Service Connect control plane endpoint. The endpoint
// is a regional forwarding rule in the cluster's VPC that leads to the control plane in
// Google's producer VPC: the consumer VPC's ingress firewall rules do not apply to it (no
// instance of the VPC receives the packet). It admits only clients that enter the VPC in its
// region — a VPN tunnel's or VLAN attachment's region for traffic from another cloud —
// unless the cluster's control plane global access is on; then master authorized networks
// apply as they do to any private endpoint.
func (m *Model) admitPSC(src, dst netip.Addr, h *topology.Machine) Admission {
	c := m.topo.Cluster
	if ok, why := m.PSCAdmits(src); !ok {
		return Admission{Rule: "psc-global-access", Reason: why}
	}
	if auth := m.authorized(src, dst, h); !auth.Allowed || auth.Rule != "" {
		return auth
	}
	return Admission{Allowed: true, Rule: "psc-endpoint", Reason: fmt.Sprintf("%s is cluster %s's Private Service Connect endpoint, which takes %s (VPC firewall rules do not apply to it)",
		dst, c.Name, src)}
}

// PSCAdmits reports whether the cluster's Private Service Connect endpoint accepts a client at
// src: one entering the cluster's VPC in the endpoint's region, or any with global access on.
func (m *Model) PSCAdmits(src netip.Addr) (bool, string) {
	c := m.topo.Cluster
	if c == nil || !c.PSC || c.GlobalAccess {
		return true, ""
	}
	entered, ok := m.EntryRegion(src, c.VPC)
	switch {
	case !ok:
		return false, src.String() + "'s traffic does not reach vpc " + c.VPC
	case entered == c.EndpointRegion:
		return true, ""
	}
	where := "in " + entered
	if entered == "" {
		where = "with no region"
	}
	return false, fmt.Sprintf("%s enters vpc %s %s, and cluster %s's Private Service Connect endpoint %s is regional (%s) while control plane global access is off "+
		"(gcloud container clusters update %s --enable-master-global-access)", src, c.VPC, where, c.Name, c.PrivateEndpoint, c.EndpointRegion, c.Name)
}

// PSCSources returns the source ranges the cluster's Private Service Connect endpoint admits
// by region (every range that reaches the VPC, with global access), and whether the endpoint
// limits them at all.
func (m *Model) PSCSources() ([]netip.Prefix, bool) {
	c := m.topo.Cluster
	if c == nil || !c.PSC || c.GlobalAccess {
		return nil, false
	}
	return m.ILBSources(c.VPC, c.EndpointRegion, false), true
}
