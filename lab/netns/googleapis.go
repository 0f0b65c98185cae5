package netns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
)

// Google's API front end in the lab: one namespace holding private.googleapis.com
// (199.36.153.8/30) on its loopback, a link from every gcp VPC's router (the VPC's route to
// the default internet gateway leads there), and a link of its own to the control-plane host,
// as Google's front end reaches the control plane inside Google. It answers each request into
// the VPC it came from: connections are marked with their link, and replies follow the mark.

const (
	googleAPIsIf    = "gapi" // the link's name in a VPC router
	googleAPIsCPIf  = "gfe"  // the link's name in the control-plane host
	googleAPIsTable = "rg_gfe"
	// googleAPIsRuleTable is the first routing table of the front end's replies, one a link.
	googleAPIsRuleTable = 100
)

var (
	// googleAPIsBase numbers the front end's links, one /30 a VPC; googleAPIsCP is the
	// control-plane link's /30. Both stay inside the lab's namespaces.
	googleAPIsBase = netip.MustParseAddr("100.127.0.0")
	googleAPIsCP   = netip.MustParseAddr("100.126.0.0")
)

func (p *Plan) planGoogleAPIs(lab string, t *topology.Topology) {
	if t.Cluster == nil || t.Cluster.DNS == nil {
		return
	}
	p.GoogleAPIs = NamespaceName(lab, "g", "apis")
	p.GoogleAPIsVia = map[string]netip.Addr{}
	for i, n := range googleAPIsVPCs(t) {
		p.GoogleAPIsVia[n.Name] = addAddr(googleAPIsBase, uint32(4*i+2))
	}
}

// googleAPIsVPCs are the VPCs linked to the front end: the gcp VPCs of the project.
func googleAPIsVPCs(t *topology.Topology) []*topology.Network {
	var out []*topology.Network
	for _, n := range t.Networks {
		if n.GCP() && n.ManagedBy == "" {
			out = append(out, n)
		}
	}
	return out
}

// GoogleAPIsUpstream is the address the front end dials the control plane at: the private
// endpoint, over the front end's own link to the control-plane host.
func (p *Plan) GoogleAPIsUpstream(t *topology.Topology) string {
	return netip.AddrPortFrom(t.Cluster.PrivateEndpoint, 443).String()
}

// GoogleAPIsListen are the front end's listening addresses.
func GoogleAPIsListen() []string {
	var out []string
	a := netmodel.PrivateGoogleAPIs.Addr()
	for range 1 << (32 - netmodel.PrivateGoogleAPIs.Bits()) {
		out = append(out, netip.AddrPortFrom(a, 443).String())
		a = a.Next()
	}
	return out
}

// realizeGoogleAPIs wires the front end's namespace (already created with the others) and
// the third-party VPCs' resolver addresses.
func realizeGoogleAPIs(ctx context.Context, p *Plan, t *topology.Topology) error {
	if p.GoogleAPIs == "" {
		return nil
	}
	ns := p.GoogleAPIs
	// Replies leave by the link their request came in on, whatever the main table says.
	for _, key := range []string{"all", "default"} {
		if err := WriteSysctl(ns, "net/ipv4/conf/"+key+"/rp_filter", "0"); err != nil {
			return fmt.Errorf("front end %s: %w", ns, err)
		}
	}
	g := &batch{ns: ns}
	g.add("link set lo up")
	a := netmodel.PrivateGoogleAPIs.Addr()
	for range 1 << (32 - netmodel.PrivateGoogleAPIs.Bits()) {
		g.add("addr add %s/32 dev lo", a)
		a = a.Next()
	}
	var nft []string
	routers := map[string]*batch{}
	for i, n := range googleAPIsVPCs(t) {
		via := p.GoogleAPIsVia[n.Name]
		gw := addAddr(via, ^uint32(0)) // via - 1: the router's side
		ifname := fmt.Sprintf("v%d", i)
		g.add("link add %s type veth peer name %s netns %s", ifname, googleAPIsIf, p.Routers[n.Name])
		g.add("addr add %s/30 dev %s", via, ifname)
		g.add("link set %s up", ifname)
		g.add("rule add fwmark %d table %d", i+1, googleAPIsRuleTable+i)
		g.add("route add default via %s dev %s table %d", gw, ifname, googleAPIsRuleTable+i)
		if i == 0 {
			// A route for the first lookup of a reply; the mark then picks the right one.
			g.add("route add default via %s dev %s", gw, ifname)
		}
		nft = append(nft, fmt.Sprintf("iifname %q ct state new ct mark set %d", ifname, i+1))
		r := &batch{ns: p.Routers[n.Name]}
		r.add("addr add %s/30 dev %s", gw, googleAPIsIf)
		r.add("link set %s up", googleAPIsIf)
		routers[n.Name] = r
	}
	cp := p.Hosts[t.Cluster.ControlPlane]
	g.add("link add cp type veth peer name %s netns %s", googleAPIsCPIf, cp)
	g.add("addr add %s/30 dev cp", googleAPIsCP.Next().Next())
	g.add("link set cp up")
	g.add("route add %s/32 via %s dev cp", t.Cluster.PrivateEndpoint, googleAPIsCP.Next())
	if err := g.run(ctx); err != nil {
		return err
	}
	for _, r := range routers {
		if err := r.run(ctx); err != nil {
			return err
		}
	}
	c := &batch{ns: cp}
	c.add("addr add %s/30 dev %s", googleAPIsCP.Next(), googleAPIsCPIf)
	c.add("link set %s up", googleAPIsCPIf)
	if err := c.run(ctx); err != nil {
		return err
	}
	script := fmt.Sprintf("table ip %s {\n chain pre {\n  type filter hook prerouting priority mangle;\n  %s\n }\n"+
		" chain out {\n  type route hook output priority mangle;\n  meta mark set ct mark\n }\n}\n",
		googleAPIsTable, strings.Join(nft, "\n  "))
	if _, err := Nft(ctx, ns, script); err != nil {
		return fmt.Errorf("front end reply routing: %w", err)
	}
	for _, n := range t.Networks {
		if a, ok := t.ResolverAddr(n.Name); ok {
			if err := Batch(ctx, p.Routers[n.Name], fmt.Sprintf("addr add %s/32 dev lo", a)); err != nil {
				return fmt.Errorf("resolver address of vpc %s: %w", n.Name, err)
			}
		}
	}
	return nil
}
