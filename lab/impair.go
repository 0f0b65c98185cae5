package lab

import (
	"context"
	"fmt"
	"slices"

	"reachgate/lab/netns"
	"reachgate/lab/topology"
	"reachgate/lab/wan"
)

// impairedLink is where a link's WAN emulation runs: the link's interface in the router
// namespace of its first side (one end only, so each direction is delayed once).
func (l *Lab) impairedLink(link *topology.Connection) wan.Link {
	return wan.Link{Namespace: l.Plan.Routers[link.A.VPC], Interface: l.Plan.LinkIf[link.Name]}
}

// applyImpairments starts the WAN emulation the topology declares on its links.
func (l *Lab) applyImpairments(ctx context.Context, self string) error {
	for _, link := range l.Topology.Links {
		if link.Impairment == nil || link.Solution != "" {
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
// with no overrides removes the emulation. Links a solution creates are not supported.
func (l *Lab) SetImpairment(ctx context.Context, self, linkName, profile string, overrides ...string) error {
	link := l.Topology.Link(linkName)
	if link == nil {
		return fmt.Errorf("no link %q in lab %s", linkName, l.State.Name)
	}
	if link.Type == topology.LinkPeering || link.Solution != "" {
		return fmt.Errorf("link %s: WAN emulation applies to interconnect and vpn links the topology declares", linkName)
	}
	if profile == "" {
		profile = "none"
	}
	imp, err := wan.Resolve(profile, overrides...)
	if err != nil {
		return fmt.Errorf("link %s: %w", linkName, err)
	}
	wl := l.impairedLink(link)
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
		return fmt.Errorf("link %s: no reachgate binary to run the WAN emulation from", linkName)
	}
	_, err = wan.Apply(ctx, l.State, self, l.State.Dir, wl, imp)
	return err
}
