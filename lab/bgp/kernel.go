package bgp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reachgate/framework/cloud"
	"slices"

	"syscall"

	"github.com/vishvananda/netlink"
)

// kernel programs the learned routes into the namespace's routing table, each as one route
// over all its next hops (ECMP), marked with the spec's protocol number.
type kernel struct {
	table, protocol int
	installed       map[string][]string // destRange → sorted next hops
}

func newKernel(k Kernel) *kernel {
	return &kernel{table: k.Table, protocol: k.Protocol, installed: map[string][]string{}}
}

// sync makes the table hold exactly routes; a prefix that fails is retried next time.
func (k *kernel) sync(routes []cloud.BestRoute) (changed []string, err error) {
	want := map[string][]string{}
	var errs []error
	for _, r := range routes {
		want[r.DestRange] = r.NextHops
		if slices.Equal(k.installed[r.DestRange], r.NextHops) {
			continue
		}
		if err := k.replace(r.DestRange, r.NextHops); err != nil {
			errs = append(errs, err)
			continue
		}
		k.installed[r.DestRange] = slices.Clone(r.NextHops)
		changed = append(changed, r.DestRange)
	}
	for dst := range k.installed {
		if _, ok := want[dst]; ok {
			continue
		}
		if err := k.delete(dst); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(k.installed, dst)
		changed = append(changed, dst)
	}
	slices.Sort(changed)
	return changed, errors.Join(errs...)
}

func (k *kernel) route(dst string) (*netlink.Route, error) {
	p, err := netip.ParsePrefix(dst)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", dst, err)
	}
	return &netlink.Route{Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)},
		Table: k.table, Protocol: netlink.RouteProtocol(k.protocol), Family: syscall.AF_INET}, nil
}

func (k *kernel) replace(dst string, hops []string) error {
	r, err := k.route(dst)
	if err != nil {
		return err
	}
	if len(hops) == 0 {
		return k.delete(dst)
	}
	for _, h := range hops {
		gw := net.ParseIP(h).To4()
		nh := &netlink.NexthopInfo{Gw: gw, LinkIndex: linkFor(gw)}
		r.MultiPath = append(r.MultiPath, nh)
	}
	if len(r.MultiPath) == 1 {
		r.Gw, r.LinkIndex, r.MultiPath = r.MultiPath[0].Gw, r.MultiPath[0].LinkIndex, nil
	}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("install route %s via %v in table %d: %w", dst, hops, k.table, err)
	}
	return nil
}

func (k *kernel) delete(dst string) error {
	r, err := k.route(dst)
	if err != nil {
		return err
	}
	if err := netlink.RouteDel(r); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("remove route %s from table %d: %w", dst, k.table, err)
	}
	return nil
}

// flush removes every route of the table carrying the speaker's protocol number: its own
// routes, including any left by a speaker that was killed.
func (k *kernel) flush() error {
	filter := &netlink.Route{Table: k.table, Protocol: netlink.RouteProtocol(k.protocol)}
	rs, err := netlink.RouteListFiltered(syscall.AF_INET, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("list routes of protocol %d in table %d: %w", k.protocol, k.table, err)
	}
	var errs []error
	for _, r := range rs {
		if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("remove route %v: %w", r.Dst, err))
		}
	}
	k.installed = map[string][]string{}
	return errors.Join(errs...)
}

// linkFor returns the interface that reaches gw (0 lets the kernel choose).
func linkFor(gw net.IP) int {
	rs, err := netlink.RouteGet(gw)
	if err != nil || len(rs) == 0 {
		return 0
	}
	return rs[0].LinkIndex
}
