package netns

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
)

// Plan is the realized shape of a topology: namespace names and interface addresses.
// It is derived from the topology alone, so Up and the lab's readers agree on it.
type Plan struct {
	Lab      string
	Routers  map[string]string // VPC -> router namespace
	Hosts    map[string]string // host -> namespace
	Gateways map[string]netip.Addr
	// LinkAddr holds the transit address of each side of each link: LinkAddr[link][vpc].
	LinkAddr map[string]map[string]netip.Addr
	LinkIf   map[string]string // link -> interface name (same on both sides)
	// HostIfs is each host's interface on its VPC's router: h<index> for the topology's
	// hosts, a fixed name for an instance the lab's API inserted (NewPlanWith), so one
	// instance's deletion does not rename another's.
	HostIfs map[string]string
	// GoogleAPIs is the namespace of Google's API front end ("" when the cluster has no
	// DNS-based endpoint), and GoogleAPIsVia the front end's address on each gcp VPC's link.
	GoogleAPIs    string
	GoogleAPIsVia map[string]netip.Addr
}

// transitBase is the range router-to-router links number from, one /30 per link.
// It never leaves the lab's namespaces.
var transitBase = netip.MustParseAddr("100.64.0.0")

// NewPlan names every namespace and link of a topology.
func NewPlan(lab string, t *topology.Topology) *Plan { return NewPlanWith(lab, t, Fixed{}) }

// Fixed names what the lab's API inserted, so that one deletion does not rename another:
// a VM's router-side interface (HostIfs), a peering's number (Links: its interface is
// p<n> and its /30 comes from apiTransitBase).
type Fixed struct {
	HostIfs map[string]string
	Links   map[string]int
	// LinkIfs names the interfaces of the API's vpn links (their tunnels' underlays are
	// <name>u<k>), which no veth of the plan realizes.
	LinkIfs map[string]string
}

// apiTransitBase is where the API's peerings number their /30s, apart from the file's links.
var apiTransitBase = netip.MustParseAddr("100.64.128.0")

// NewPlanWith is NewPlan with fixed names for what the lab's API inserted.
func NewPlanWith(lab string, t *topology.Topology, fixed Fixed) *Plan {
	hostIfs := fixed.HostIfs
	p := &Plan{Lab: lab, Routers: map[string]string{}, Hosts: map[string]string{},
		Gateways: map[string]netip.Addr{}, LinkAddr: map[string]map[string]netip.Addr{}, LinkIf: map[string]string{},
		HostIfs: map[string]string{}}
	for _, n := range t.Networks {
		p.Routers[n.Name] = NamespaceName(lab, "vpc", n.Name)
		for _, s := range n.Subnets {
			p.Gateways[n.Name+"/"+s.Name] = s.CIDR.Addr().Next()
		}
	}
	for i, h := range t.Hosts {
		p.Hosts[h.Name] = NamespaceName(lab, "h", h.Name)
		p.HostIfs[h.Name] = HostIf(i)
		if n, ok := hostIfs[h.Name]; ok {
			p.HostIfs[h.Name] = n
		}
	}
	p.planGoogleAPIs(lab, t)
	for i, l := range t.Links {
		base, ifname := addAddr(transitBase, uint32(4*i)), fmt.Sprintf("l%d", i)
		if n, ok := fixed.Links[l.Name]; ok {
			base, ifname = addAddr(apiTransitBase, uint32(4*n)), fmt.Sprintf("p%d", n)
		}
		if n, ok := fixed.LinkIfs[l.Name]; ok {
			ifname = n
		}
		p.LinkAddr[l.Name] = map[string]netip.Addr{l.A.VPC: base.Next(), l.B.VPC: base.Next().Next()}
		p.LinkIf[l.Name] = ifname
	}
	return p
}

func addAddr(a netip.Addr, n uint32) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Namespaces lists every namespace of the plan, routers first.
func (p *Plan) Namespaces(t *topology.Topology) []string {
	var out []string
	for _, n := range t.Networks {
		out = append(out, p.Routers[n.Name])
	}
	for _, h := range t.Hosts {
		out = append(out, p.Hosts[h.Name])
	}
	if p.GoogleAPIs != "" {
		out = append(out, p.GoogleAPIs)
	}
	return out
}

// Realize creates the namespaces, links, addresses and routes of a topology as computed by
// the model. Nothing else decides reachability: a destination without a route is a
// blackhole, so packets vanish silently as in a cloud VPC.
func Realize(ctx context.Context, st *State, t *topology.Topology, m *netmodel.Model, log *slog.Logger) (*Plan, error) {
	p := NewPlan(st.Name, t)
	existing, err := ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, n := range existing {
		have[n] = true
	}
	create := &batch{}
	for _, ns := range p.Namespaces(t) {
		if have[ns] {
			return nil, fmt.Errorf("namespace %s already exists and is not part of this lab's state: run 'reachgate lab gc' or 'reachgate lab down --name %s'", ns, st.Name)
		}
		if err := st.RecordNamespace(ns); err != nil {
			return nil, err
		}
		create.add("netns add %s", ns)
	}
	if err := create.run(ctx); err != nil {
		return nil, err
	}
	log.Info("namespaces created", "count", len(create.lines))

	cfg := map[string]*batch{}
	nsBatch := func(ns string) *batch {
		if cfg[ns] == nil {
			cfg[ns] = &batch{ns: ns}
			cfg[ns].add("link set lo up")
		}
		return cfg[ns]
	}
	for _, n := range t.Networks {
		nsBatch(p.Routers[n.Name])
	}
	for _, h := range t.Hosts {
		hostRouterLines(p, h, nsBatch(p.Routers[h.VPC]))
	}
	// Links are created from the router side of each pair; each end is born in its namespace.
	// A link a solution creates (its VPN tunnels) appears when the solution is applied.
	for _, l := range t.Links {
		if l.Solution != "" {
			continue
		}
		ifname := p.LinkIf[l.Name]
		a := nsBatch(p.Routers[l.A.VPC])
		a.add("link add %s type veth peer name %s netns %s", ifname, ifname, p.Routers[l.B.VPC])
	}
	for _, l := range t.Links {
		if l.Solution != "" {
			continue
		}
		ifname := p.LinkIf[l.Name]
		for _, vpc := range []string{l.A.VPC, l.B.VPC} {
			r := nsBatch(p.Routers[vpc])
			r.add("addr add %s/30 dev %s", p.LinkAddr[l.Name][vpc], ifname)
			r.add("link set %s up", ifname)
		}
	}
	// Routers first (they create the veths), then hosts.
	for _, n := range t.Networks {
		if err := cfg[p.Routers[n.Name]].run(ctx); err != nil {
			return nil, err
		}
		if err := WriteSysctl(p.Routers[n.Name], "net/ipv4/ip_forward", "1"); err != nil {
			return nil, fmt.Errorf("enable forwarding in %s: %w", p.Routers[n.Name], err)
		}
	}
	for _, h := range t.Hosts {
		if err := realizeHostSide(ctx, p, t, h, nsBatch(p.Hosts[h.Name])); err != nil {
			return nil, err
		}
	}
	if err := realizeGoogleAPIs(ctx, p, t); err != nil {
		return nil, err
	}
	if err := Program(ctx, p, t, m); err != nil {
		return nil, err
	}
	for _, h := range t.Hosts {
		st.Hosts[h.Name] = HostInfo{Namespace: p.Hosts[h.Name], IP: h.IP.String(), VPC: h.VPC, Role: h.Role}
	}
	log.Info("network realized", "vpcs", len(t.Networks), "hosts", len(t.Hosts), "links", len(t.Links))
	return p, st.Save()
}

// hostRouterLines adds to the router's batch the veth to a host and the gateway address.
func hostRouterLines(p *Plan, h *topology.Machine, r *batch) {
	ifname := p.HostIfs[h.Name]
	r.add("link add %s type veth peer name eth0 netns %s", ifname, p.Hosts[h.Name])
	r.add("addr add %s/32 dev %s", p.Gateways[h.VPC+"/"+h.Subnet], ifname)
	r.add("link set %s up", ifname)
}

// realizeHostSide configures a host's end: its address, the route to its gateway, and
// forwarding on a node (its pods are behind it).
func realizeHostSide(ctx context.Context, p *Plan, t *topology.Topology, h *topology.Machine, b *batch) error {
	gw := p.Gateways[h.VPC+"/"+h.Subnet]
	b.add("addr add %s/32 dev eth0", h.IP)
	b.add("link set eth0 up")
	b.add("route replace %s/32 dev eth0 scope link", gw)
	b.add("route replace default via %s dev eth0", gw)
	if err := b.run(ctx); err != nil {
		return err
	}
	if _, ok := nodePods(t, h.Name); ok {
		if err := WriteSysctl(p.Hosts[h.Name], "net/ipv4/ip_forward", "1"); err != nil {
			return fmt.Errorf("enable forwarding on node %s: %w", h.Name, err)
		}
	}
	return nil
}

// AddNetwork creates a VPC's router namespace after the lab is up (a network the lab's API
// inserted); it is recorded in the state first, so lab down removes it.
func AddNetwork(ctx context.Context, st *State, p *Plan, n *topology.Network) error {
	ns := p.Routers[n.Name]
	if err := st.RecordNamespace(ns); err != nil {
		return err
	}
	if _, err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
		return err
	}
	b := &batch{ns: ns}
	b.add("link set lo up")
	if err := b.run(ctx); err != nil {
		return err
	}
	return WriteSysctl(ns, "net/ipv4/ip_forward", "1")
}

// AddHost creates a host's namespace and its link to its VPC's router after the lab is up
// (an instance the lab's API inserted), and records it in the state.
func AddHost(ctx context.Context, st *State, p *Plan, t *topology.Topology, h *topology.Machine) error {
	ns := p.Hosts[h.Name]
	if err := st.RecordNamespace(ns); err != nil {
		return err
	}
	if _, err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
		return err
	}
	r := &batch{ns: p.Routers[h.VPC]}
	hostRouterLines(p, h, r)
	if err := r.run(ctx); err != nil {
		return err
	}
	b := &batch{ns: ns}
	b.add("link set lo up")
	if err := realizeHostSide(ctx, p, t, h, b); err != nil {
		return err
	}
	return st.Update(func(s *State) error {
		s.Hosts[h.Name] = HostInfo{Namespace: ns, IP: h.IP.String(), VPC: h.VPC, Role: h.Role}
		return nil
	})
}

// AddLink creates a link between two VPCs' routers after the lab is up (a peering the lab's
// API made active): a veth whose ends carry the plan's /30 addresses.
func AddLink(ctx context.Context, p *Plan, l *topology.Connection) error {
	ifname := p.LinkIf[l.Name]
	a := &batch{ns: p.Routers[l.A.VPC]}
	a.add("link add %s type veth peer name %s netns %s", ifname, ifname, p.Routers[l.B.VPC])
	a.add("addr add %s/30 dev %s", p.LinkAddr[l.Name][l.A.VPC], ifname)
	a.add("link set %s up", ifname)
	if err := a.run(ctx); err != nil {
		return err
	}
	b := &batch{ns: p.Routers[l.B.VPC]}
	b.add("addr add %s/30 dev %s", p.LinkAddr[l.Name][l.B.VPC], ifname)
	b.add("link set %s up", ifname)
	return b.run(ctx)
}

// RemoveLink deletes a link's veth from one of its routers (the other end goes with it).
func RemoveLink(ctx context.Context, routerNS, ifname string) error {
	_, err := run(ctx, "", "ip", "-n", routerNS, "link", "del", ifname)
	return err
}

// RemoveNamespace ends what runs in one of the lab's namespaces, deletes it and forgets it
// (an instance or a network the lab's API deleted); host, when not "", leaves the state's
// hosts too.
func RemoveNamespace(ctx context.Context, st *State, ns, host string) error {
	if err := deleteNamespace(ctx, ns); err != nil {
		return err
	}
	return st.Update(func(s *State) error {
		s.Namespaces = slices.DeleteFunc(s.Namespaces, func(n string) bool { return n == ns })
		if host != "" {
			delete(s.Hosts, host)
		}
		return nil
	})
}

// nodePods returns the pod range of a GKE node host.
func nodePods(t *topology.Topology, host string) (netip.Prefix, bool) {
	if t.Cluster == nil {
		return netip.Prefix{}, false
	}
	for i, n := range t.Cluster.Nodes {
		if n == host {
			return t.Cluster.NodePodCIDR(i)
		}
	}
	return netip.Prefix{}, false
}
