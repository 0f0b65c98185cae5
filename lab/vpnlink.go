package lab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab/bgp"
	"reachgate/lab/netns"
	"reachgate/lab/vpn"
	"reachgate/lab/wan"
)

// Lab timers for the Cloud Router sessions (GCP: keepalive 20 s, hold 60 s, no BFD on HA
// VPN); see lab/bgp for the defaults' reasons.
const (
	BGPKeepalive = 1 * time.Second
	BGPHold      = 3 * time.Second
)

// underlayBase numbers the tunnels' underlay links: one /30 per tunnel, 100.100.<link>.<4k>.
// It stands for the two clouds' public addresses and never leaves the lab's namespaces.
var underlayBase = netip.MustParseAddr("100.100.0.0")

// wgPort is the UDP port of every tunnel end (each binds its own underlay address).
const wgPort = 51820

// Reconcile makes the network match the cloud state: the routes and filters of the current
// model in every router namespace, and for each solution link its tunnels (an underlay link
// and a userspace WireGuard tunnel each) and both sides' BGP speakers. self is the reachgate
// binary the daemons run from.
func (l *Lab) Reconcile(ctx context.Context, self string, log *slog.Logger) error {
	unlock, err := l.lockReconcile()
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.Refresh(); err != nil {
		return err
	}
	if err := l.realizeAPI(ctx); err != nil {
		return err
	}
	if err := netns.Program(ctx, l.Plan, Declared(l.Topology, l.Cloud), l.Model); err != nil {
		return err
	}
	if err := l.writeGoogleAPIsConfig(); err != nil {
		return err
	}
	if err := l.realizeCluster(ctx, self, log); err != nil {
		return err
	}
	live := map[string]bool{}
	for _, s := range l.SolutionLinks() {
		live[s.Name] = true
		if err := l.reconcileLink(ctx, s.Underlay, s.Connection, self, log); err != nil {
			return fmt.Errorf("link %s: %w", s.Name, err)
		}
	}
	return l.stopOrphanDaemons(ctx, live)
}

// stopOrphanDaemons stops the tunnel and BGP daemons of links that are gone (an API vpn link
// whose gateway was deleted).
func (l *Lab) stopOrphanDaemons(ctx context.Context, live map[string]bool) error {
	for _, p := range slices.Clone(l.State.Processes) {
		kind, rest, _ := strings.Cut(p.Name, "/")
		link, _, ok := strings.Cut(rest, "/")
		if (kind != "vpn" && kind != "bgp") || !ok || live[link] {
			continue
		}
		if err := l.stopDaemon(ctx, p.Name); err != nil {
			return err
		}
	}
	return nil
}

// linkSides returns the GCP side and the peer side of a solution's VPN link.
func (l *Lab) linkSides(link *topology.Connection) (gcp, peer topology.Endpoint) {
	if n := l.Current.Network(link.A.VPC); n != nil && n.GCP() {
		return link.A, link.B
	}
	return link.B, link.A
}

// tunnelsOf returns the tunnels of link in index order, with their names.
func (cs *CloudState) tunnelsOf(link string) (names []string, ts []VPNTunnel) {
	for name, t := range cs.Tunnels {
		if t.Link == link {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return cs.Tunnels[a].Index - cs.Tunnels[b].Index })
	for _, n := range names {
		ts = append(ts, cs.Tunnels[n])
	}
	return names, ts
}

// Underlay returns the interface of tunnel index k of link i, and its two underlay
// addresses (GCP side, peer side).
func Underlay(p *netns.Plan, link string, i, k int) (ifname string, gcp, peer netip.Addr) {
	b := underlayBase.As4()
	b[2] = byte(i)
	b[3] = byte(4*k + 1)
	gcp = netip.AddrFrom4(b)
	return p.LinkIf[link] + "u" + fmt.Sprint(k), gcp, gcp.Next()
}

func (l *Lab) reconcileLink(ctx context.Context, i int, link *topology.Connection, self string, log *slog.Logger) error {
	gcp, peer := l.linkSides(link)
	gns, pns := l.Plan.Routers[gcp.VPC], l.Plan.Routers[peer.VPC]
	names, tunnels := l.Cloud.tunnelsOf(link.Name)
	// Underlay links: one veth per tunnel, created once, removed with its tunnel.
	have, err := links(ctx, gns)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, t := range tunnels {
		ifname, ga, pa := Underlay(l.Plan, link.Name, i, t.Index)
		want[ifname] = true
		if have[ifname] {
			continue
		}
		script := fmt.Sprintf("link add %s type veth peer name %s netns %s\naddr add %s/30 dev %s\nlink set %s up\n",
			ifname, ifname, pns, ga, ifname, ifname)
		if err := netns.Batch(ctx, gns, script); err != nil {
			return err
		}
		if err := netns.Batch(ctx, pns, fmt.Sprintf("addr add %s/30 dev %s\nlink set %s up\n", pa, ifname, ifname)); err != nil {
			return err
		}
	}
	prefix := l.Plan.LinkIf[link.Name] + "u"
	for ifname := range have {
		if strings.HasPrefix(ifname, prefix) && !want[ifname] {
			if err := l.impair(ctx, self, wan.Link{Namespace: gns, Interface: ifname}, wan.Impairment{}); err != nil {
				return err
			}
			_ = netns.Batch(ctx, gns, "link del "+ifname+"\n")
		}
	}
	// The WAN between the clouds, as the topology declares it, on each new tunnel's underlay.
	if im := link.Impairment; im != nil {
		imp, err := wan.Resolve(cmp.Or(im.Profile, "none"), im.Overrides()...)
		if err != nil {
			return err
		}
		for ifname := range want {
			if !have[ifname] {
				if err := l.impair(ctx, self, wan.Link{Namespace: gns, Interface: ifname}, imp); err != nil {
					return err
				}
			}
		}
	}
	// Tunnels and BGP sessions on both sides.
	peers := l.Cloud.BGPPeers[gcp.VPC+"/"+gcp.Router]
	gSpec, pSpec := vpn.Spec{Name: link.Name + "-gcp"}, vpn.Spec{Name: link.Name + "-peer"}
	gBGP, pBGP, err := l.speakers(link, gcp, peer)
	if err != nil {
		return err
	}
	for j, t := range tunnels {
		_, ga, pa := Underlay(l.Plan, link.Name, i, t.Index)
		tun := "vt" + fmt.Sprint(t.Index)
		gpub, err := vpn.PublicKey(t.GCPKey)
		if err != nil {
			return err
		}
		ppub, err := vpn.PublicKey(t.PeerKey)
		if err != nil {
			return err
		}
		k := slices.IndexFunc(peers, func(p cloud.RouterBgpPeer) bool { return p.Tunnel == names[j] })
		if k < 0 {
			continue // GCP: a tunnel without a BGP peer carries no routes; the lab leaves it down
		}
		bp := peers[k]
		inner := netip.PrefixFrom(bp.IPAddress, 30).Masked()
		gSpec.Tunnels = append(gSpec.Tunnels, vpn.Tunnel{Name: names[j], Interface: tun, PrivateKey: t.GCPKey, PeerPublicKey: ppub,
			Listen: netip.AddrPortFrom(ga, wgPort).String(), PeerEndpoint: netip.AddrPortFrom(pa, wgPort).String(),
			Address: netip.PrefixFrom(bp.IPAddress, inner.Bits()).String()})
		pSpec.Tunnels = append(pSpec.Tunnels, vpn.Tunnel{Name: names[j], Interface: tun, PrivateKey: t.PeerKey, PeerPublicKey: gpub,
			Listen: netip.AddrPortFrom(pa, wgPort).String(), PeerEndpoint: netip.AddrPortFrom(ga, wgPort).String(),
			Address: netip.PrefixFrom(bp.PeerIPAddress, inner.Bits()).String()})
		timers := bgp.Timers{Keepalive: int(BGPKeepalive / time.Second), Hold: int(BGPHold / time.Second), ConnectRetry: 1}
		// The Cloud Router waits for the peer (AWS initiates); the peer connects.
		gBGP.Neighbors = append(gBGP.Neighbors, bgp.Neighbor{Name: bp.Name, Address: bp.PeerIPAddress.String(),
			LocalAddress: bp.IPAddress.String(), PeerASN: bp.PeerAsn, Passive: true, Timers: timers})
		pBGP.Neighbors = append(pBGP.Neighbors, bgp.Neighbor{Name: bp.Name, Address: bp.IPAddress.String(),
			LocalAddress: bp.PeerIPAddress.String(), PeerASN: gBGP.ASN, Timers: timers})
		if gBGP.RouterID == "" {
			gBGP.RouterID, pBGP.RouterID = bp.IPAddress.String(), bp.PeerIPAddress.String()
		}
	}
	for _, d := range []struct {
		name, ns string
		vpn      vpn.Spec
		bgp      bgp.Spec
	}{{"gcp", gns, gSpec, gBGP}, {"peer", pns, pSpec, pBGP}} {
		vpnName, bgpName := Daemon("vpn", link.Name, d.name), Daemon("bgp", link.Name, d.name)
		if len(d.vpn.Tunnels) == 0 {
			if err := l.stopDaemon(ctx, bgpName); err != nil {
				return err
			}
			if err := l.stopDaemon(ctx, vpnName); err != nil {
				return err
			}
			continue
		}
		if err := l.ensureDaemon(vpnName, d.ns, self, "vpn", func(path string) error { return vpn.WriteSpec(path, d.vpn) }, log); err != nil {
			return err
		}
		if err := l.ensureDaemon(bgpName, d.ns, self, "bgp", func(path string) error { return bgp.WriteSpec(path, d.bgp) }, log); err != nil {
			return err
		}
	}
	return nil
}

// speakers returns both sides' BGP speakers for link without neighbors: ASNs from the
// routers, what each announces from the model (the Cloud Router's advertisement; the peer
// announces its VPC's ranges), and where learned routes go in the kernel.
func (l *Lab) speakers(link *topology.Connection, gcp, peer topology.Endpoint) (g, p bgp.Spec, err error) {
	gr := l.Current.Network(gcp.VPC).Router(gcp.Router)
	pr := l.Current.Network(peer.VPC).Router(peer.Router)
	if gr == nil || pr == nil {
		return g, p, fmt.Errorf("routers %s/%s and %s/%s must exist", gcp.VPC, gcp.Router, peer.VPC, peer.Router)
	}
	g = bgp.Spec{Name: gcp.Router, ASN: gr.ASN}
	p = bgp.Spec{Name: peer.Router, ASN: pr.ASN}
	for _, a := range l.Model.Advertised(link.Name, gcp.VPC) {
		g.Advertise = append(g.Advertise, bgp.Advertisement{Prefix: a.String(), MED: 100})
	}
	for _, a := range l.Model.Advertised(link.Name, peer.VPC) {
		p.Advertise = append(p.Advertise, bgp.Advertisement{Prefix: a.String(), MED: 100})
	}
	// GCP: a REGIONAL VPC applies learned routes only in the router's region: the lab's
	// region table for it (main when the VPC routes the same everywhere).
	region := ""
	if l.Current.Network(gcp.VPC).RoutingMode != topology.RoutingGlobal {
		region = gr.Region
	}
	g.Kernel.Table = netns.RegionTable(l.Model, gcp.VPC, region)
	return g, p, nil
}

// Daemon names the tunnel ("vpn") or BGP ("bgp") daemon of one side ("gcp" or "peer") of a
// solution's link.
func Daemon(kind, link, side string) string { return kind + "/" + link + "/" + side }

// DaemonSpec is where a daemon's spec lives in the lab's state; its status is next to it.
func (l *Lab) DaemonSpec(name string) string {
	return l.State.Path(strings.ReplaceAll(name, "/", "_") + ".json")
}

// ensureDaemon writes a daemon's spec (DaemonSpec) and starts the daemon, or signals a
// running one to reload it when the spec changed.
func (l *Lab) ensureDaemon(name, ns, self, command string, write func(path string) error, log *slog.Logger) error {
	path := l.DaemonSpec(name)
	old, _ := os.ReadFile(path)
	if err := write(path); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	cur, _ := os.ReadFile(path)
	for _, p := range l.State.Processes {
		if p.Name == name && p.Running() {
			if string(old) != string(cur) {
				// A daemon handles SIGHUP once it runs; before that the signal would end it.
				// It writes its status file (<spec>.status.json) when it is running.
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					if _, err := os.Stat(path + ".status.json"); err == nil {
						break
					}
				}
				log.Info("reloading", "daemon", name)
				return syscall.Kill(p.PID, syscall.SIGHUP)
			}
			return nil
		}
	}
	if self == "" {
		return fmt.Errorf("%s: no reachgate binary to run the daemon from", name)
	}
	log.Info("starting", "daemon", name, "namespace", ns)
	_, err := l.State.Start(netns.StartSpec{Name: name, Namespace: ns, Path: self, Args: []string{command, "--spec", path}})
	return err
}

// stopDaemon stops a daemon the lab started, if it runs, and forgets it.
func (l *Lab) stopDaemon(ctx context.Context, name string) error {
	var stopped []netns.Process
	for _, p := range l.State.Processes {
		if p.Name == name {
			if err := p.Stop(ctx, 5*time.Second); err != nil {
				return err
			}
			stopped = append(stopped, p)
		}
	}
	if len(stopped) == 0 {
		return nil
	}
	return l.State.Forget(stopped, nil)
}

// links lists the interfaces of a namespace.
func links(_ context.Context, ns string) (map[string]bool, error) { return netns.LinkNames(ns) }

// errNoTunnel is returned for a tunnel name the lab does not know.
var errNoTunnel = errors.New("no such VPN tunnel")

// SetTunnelUnderlay cuts (up=false) or restores a tunnel's underlay link on both sides: the
// tunnel's packets are lost silently, as when a path between the clouds fails.
func (l *Lab) SetTunnelUnderlay(ctx context.Context, tunnel string, up bool) error {
	if err := l.Refresh(); err != nil {
		return err
	}
	t, ok := l.Cloud.Tunnels[tunnel]
	if !ok {
		return fmt.Errorf("%w %q", errNoTunnel, tunnel)
	}
	link, ok := l.SolutionLinkOf(t.Link, "")
	if !ok {
		return fmt.Errorf("tunnel %q: its link %s is gone", tunnel, t.Link)
	}
	gcp, peer := l.linkSides(link.Connection)
	ifname, _, _ := Underlay(l.Plan, link.Name, link.Underlay, t.Index)
	state := "down"
	if up {
		state = "up"
	}
	for _, vpc := range []string{gcp.VPC, peer.VPC} {
		if err := netns.Batch(ctx, l.Plan.Routers[vpc], fmt.Sprintf("link set %s %s\n", ifname, state)); err != nil {
			return err
		}
	}
	return nil
}

// TunnelsCarrying returns the tunnels that carry traffic from host to dst and its replies:
// the tunnel the sending side's kernel picks among the ECMP next hops, each way.
func (l *Lab) TunnelsCarrying(ctx context.Context, host string, dst netip.Addr) ([]string, error) {
	if err := l.Refresh(); err != nil {
		return nil, err
	}
	h := l.Current.Host(host)
	if h == nil {
		return nil, fmt.Errorf("no host %q", host)
	}
	byIf := map[string]string{}
	for name, t := range l.Cloud.Tunnels {
		if t.PeerGcpGateway == "" { // a pair's tunnels are one link, not vt<k> interfaces
			byIf["vt"+fmt.Sprint(t.Index)] = name
		}
	}
	var out []string
	pick := func(vpc string, from, to netip.Addr) error {
		// The packet as it enters vpc's router: from a host interface or a link.
		iif := ""
		for _, o := range l.Current.Hosts {
			if o.IP == from && o.VPC == vpc {
				iif = l.Plan.HostIfs[o.Name]
			}
		}
		if iif == "" {
			if tr := l.Model.Trace(from, to); len(tr.Forward.Hops) > 1 {
				for k, hop := range tr.Forward.Hops[1:] {
					if hop.VPC == vpc {
						iif = l.Plan.LinkIf[tr.Forward.Hops[k].Route.Link]
					}
				}
			}
		}
		args := []string{"ip", "-n", l.Plan.Routers[vpc], "-o", "route", "get", to.String(), "from", from.String()}
		if iif != "" {
			args = append(args, "iif", iif)
		}
		o, err := netns.Output(ctx, args...)
		if err != nil {
			return err
		}
		f := strings.Fields(o)
		if i := slices.Index(f, "dev"); i >= 0 && i+1 < len(f) {
			if t, ok := byIf[f[i+1]]; ok && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		return nil
	}
	for _, link := range l.SolutionLinks() {
		gcp, peer := l.linkSides(link.Connection)
		if err := pick(peer.VPC, h.IP, dst); err != nil {
			return nil, err
		}
		// The reply enters the GCP side's router from the destination's direction.
		if err := pick(gcp.VPC, dst, h.IP); err != nil {
			return nil, err
		}
	}
	return out, nil
}
