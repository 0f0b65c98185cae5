package bgp

import (
	"fmt"
	"net/netip"
	"reachgate/framework/cloud"
	"slices"

	api "github.com/osrg/gobgp/v3/api"
)

// pathInfo is what multipath selection compares of one path.
type pathInfo struct {
	neighbor  netip.Addr // invalid for a locally originated path
	nextHop   netip.Addr
	med       uint32
	localPref uint32
	origin    uint32
	asPath    []uint32
	asLen     int // AS_SET counts as one
}

func decodePath(p *api.Path) (pathInfo, error) {
	pi := pathInfo{localPref: 100}
	if a, err := netip.ParseAddr(p.GetNeighborIp()); err == nil && !a.IsUnspecified() {
		pi.neighbor = a
	}
	for _, raw := range p.GetPattrs() {
		m, err := raw.UnmarshalNew()
		if err != nil {
			return pi, fmt.Errorf("decode path attribute %s: %w", raw.GetTypeUrl(), err)
		}
		switch a := m.(type) {
		case *api.NextHopAttribute:
			pi.nextHop, _ = netip.ParseAddr(a.GetNextHop())
		case *api.MpReachNLRIAttribute:
			if hops := a.GetNextHops(); len(hops) > 0 && !pi.nextHop.IsValid() {
				pi.nextHop, _ = netip.ParseAddr(hops[0])
			}
		case *api.MultiExitDiscAttribute:
			pi.med = a.GetMed()
		case *api.LocalPrefAttribute:
			pi.localPref = a.GetLocalPref()
		case *api.OriginAttribute:
			pi.origin = a.GetOrigin()
		case *api.AsPathAttribute:
			for _, seg := range a.GetSegments() {
				pi.asPath = append(pi.asPath, seg.GetNumbers()...)
				if seg.GetType() == api.AsSegment_AS_SET {
					pi.asLen++
				} else {
					pi.asLen += len(seg.GetNumbers())
				}
			}
		}
	}
	return pi, nil
}

// multipathEqual reports whether q may share traffic with the best path b: equal on every
// step of the decision before the tie-breakers (local preference, AS path length, origin,
// MED, neighbor AS), as routers do for eBGP multipath.
func multipathEqual(b, q pathInfo) bool {
	firstAS := func(p pathInfo) uint32 {
		if len(p.asPath) == 0 {
			return 0
		}
		return p.asPath[0]
	}
	return b.localPref == q.localPref && b.asLen == q.asLen && b.origin == q.origin &&
		b.med == q.med && firstAS(b) == firstAS(q)
}

// bestRoutes selects, for each destination whose best path was learned from a peer, the
// next hops of all paths equal to the best; GoBGP lists a destination's best path first.
func bestRoutes(dests []*api.Destination) ([]cloud.BestRoute, error) {
	var out []cloud.BestRoute
	for _, d := range dests {
		paths := d.GetPaths()
		if len(paths) == 0 || paths[0].GetIsWithdraw() {
			continue
		}
		best, err := decodePath(paths[0])
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.GetPrefix(), err)
		}
		if !best.neighbor.IsValid() || !best.nextHop.IsValid() {
			continue // our own prefix
		}
		r := cloud.BestRoute{DestRange: d.GetPrefix(), Priority: best.med, ASPath: best.asPath}
		for _, p := range paths {
			pi, err := decodePath(p)
			if err != nil {
				return nil, fmt.Errorf("destination %s: %w", d.GetPrefix(), err)
			}
			if p.GetIsWithdraw() || !pi.neighbor.IsValid() || !pi.nextHop.IsValid() || !multipathEqual(best, pi) {
				continue
			}
			if h := pi.nextHop.String(); !slices.Contains(r.NextHops, h) {
				r.NextHops = append(r.NextHops, h)
			}
		}
		slices.SortFunc(r.NextHops, func(a, b string) int {
			return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
		})
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b cloud.BestRoute) int {
		pa, _ := netip.ParsePrefix(a.DestRange)
		pb, _ := netip.ParsePrefix(b.DestRange)
		if c := pa.Addr().Compare(pb.Addr()); c != 0 {
			return c
		}
		return pa.Bits() - pb.Bits()
	})
	return out, nil
}
