package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab/lb"
)

// Explain says from the network model whether host from (a name or an address) reaches to,
// and why. A port makes it
// judge a TCP flow: firewall rules, authorized networks and, when to is an internal load
// balancer's address in this lab, the LB's regional admission (global access).
func (l *Lab) Explain(from string, to netip.AddrPort) (netmodel.Trace, error) {
	if err := l.Refresh(); err != nil {
		return netmodel.Trace{}, err
	}
	h := l.hostOf(from)
	if h == nil {
		return netmodel.Trace{}, fmt.Errorf("no host %q in lab %s", from, l.State.Name)
	}
	flow := netmodel.Flow{}
	if to.Port() != 0 {
		flow = netmodel.Flow{Proto: "tcp", Port: to.Port()}
	}
	t := l.Model.TraceFlowFrom(h.Name, to.Addr(), flow)
	if !t.Reachable || flow.Proto == "" {
		return t, nil
	}
	if s, ok := l.loadBalancer(to); ok && len(s.Admit) > 0 {
		admitted := slices.ContainsFunc(s.Admit, func(a string) bool {
			p, err := netip.ParsePrefix(a)
			return err == nil && p.Contains(h.IP)
		})
		if !admitted {
			cl := l.Current.Cluster
			region := l.Current.Network(cl.VPC).Subnet(cl.Subnet).Region
			_, why := l.Model.ILBAdmits(cl.VPC, region, false, h.IP)
			t.Reachable = false
			t.Forward.Delivered = false
			t.Forward.Blocked = "internal load balancer " + s.Name + " refuses it: " + why
			t.Reason = fmt.Sprintf("%s reaches vpc %s, but %s", from, cl.VPC, t.Forward.Blocked)
		}
	}
	return t, nil
}

// loadBalancer returns the lab's internal LB serving addr, from the specs the GKE emulation
// wrote.
func (l *Lab) loadBalancer(addr netip.AddrPort) (lb.Spec, bool) {
	files, _ := filepath.Glob(filepath.Join(l.State.Path("ilb"), "*.json"))
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		s, err := lb.LoadSpec(f)
		if err == nil && s.VIP == addr.Addr().String() && slices.Contains(s.Ports, int(addr.Port())) {
			return s, true
		}
	}
	return lb.Spec{}, false
}

// hostOf is the host named from, or the one at address from (the gcp provider's view of a
// host of the lab's project, such as the control plane, has its address, not the lab's name).
func (l *Lab) hostOf(from string) *topology.Machine {
	if h := l.Current.Host(from); h != nil {
		return h
	}
	a, err := netip.ParseAddr(from)
	if err != nil {
		return nil
	}
	for _, h := range l.Current.Hosts {
		if h.IP == a {
			return h
		}
	}
	return nil
}
