package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"reachgate/framework/topology"
	"reachgate/lab/netns"
	"reachgate/lab/wan"
)

// impairedLinks are where a link's WAN emulation runs, at one end only so each direction is
// delayed once: the link's interface in its first side's router namespace, or for a link a
// solution creates, each tunnel's underlay interface on the GCP side.
func (l *Lab) impairedLinks(ctx context.Context, link *topology.Connection) ([]wan.Link, error) {
	if link.Solution == "" {
		return []wan.Link{{Namespace: l.Plan.Routers[link.A.VPC], Interface: l.Plan.LinkIf[link.Name]}}, nil
	}
	gcp, _ := l.linkSides(link)
	ns := l.Plan.Routers[gcp.VPC]
	have, err := links(ctx, ns)
	if err != nil {
		return nil, err
	}
	var out []wan.Link
	for ifname := range have {
		if strings.HasPrefix(ifname, l.Plan.LinkIf[link.Name]+"u") {
			out = append(out, wan.Link{Namespace: ns, Interface: ifname})
		}
	}
	slices.SortFunc(out, func(a, b wan.Link) int { return strings.Compare(a.Interface, b.Interface) })
	return out, nil
}

// applyImpairments starts the WAN emulation the topology declares on its links.
func (l *Lab) applyImpairments(ctx context.Context, self string) error {
	for _, link := range l.Topology.Links {
		if link.Impairment == nil {
			continue
		}
		if err := l.SetImpairment(ctx, self, link.Name, link.Impairment.Profile, link.Impairment.Overrides()...); err != nil {
			return err
		}
	}
	return nil
}

// SetImpairment emulates a WAN profile (with "key=value" overrides: delay, jitter, loss,
// rate, rtt) on an interconnect or vpn link of the lab, replacing what it had; profile "none"
// with no overrides removes the emulation. On a link a solution creates it applies to the
// tunnels that exist (new tunnels get the topology's impairment).
func (l *Lab) SetImpairment(ctx context.Context, self, linkName, profile string, overrides ...string) error {
	if err := l.Refresh(); err != nil {
		return err
	}
	link := l.Topology.Link(linkName)
	if s, ok := l.SolutionLinkOf(linkName, ""); ok && link == nil {
		link = s.Connection
	}
	if link == nil {
		return fmt.Errorf("no link %q in lab %s", linkName, l.State.Name)
	}
	if link.Type == topology.LinkPeering {
		return fmt.Errorf("link %s: WAN emulation applies to interconnect and vpn links", linkName)
	}
	if profile == "" {
		profile = "none"
	}
	imp, err := wan.Resolve(profile, overrides...)
	if err != nil {
		return fmt.Errorf("link %s: %w", linkName, err)
	}
	wls, err := l.impairedLinks(ctx, link)
	if err != nil {
		return err
	}
	for _, wl := range wls {
		if err := l.impair(ctx, self, wl, imp); err != nil {
			return fmt.Errorf("link %s: %w", linkName, err)
		}
	}
	return nil
}

// impair applies imp to one interface: starts, updates or removes its WAN element.
func (l *Lab) impair(ctx context.Context, self string, wl wan.Link, imp wan.Impairment) error {
	name := wan.ProcessName(wl)
	i := slices.IndexFunc(l.State.Processes, func(p netns.Process) bool { return p.Name == name && p.Running() })
	off := imp == (wan.Impairment{})
	switch {
	case i >= 0 && off:
		p := l.State.Processes[i]
		if err := wan.Remove(ctx, wl, p); err != nil {
			return err
		}
		return l.State.Forget([]netns.Process{p}, nil)
	case i >= 0:
		return wan.Update(ctx, l.State.Dir, wl, l.State.Processes[i], imp)
	case off:
		return nil
	}
	if self == "" {
		return fmt.Errorf("%s: no reachgate binary to run the WAN emulation from", wl.Interface)
	}
	_, err := wan.Apply(ctx, l.State, self, l.State.Dir, wl, imp)
	return err
}
