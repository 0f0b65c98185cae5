package netmodel

import (
	"fmt"
	"strings"

	"reachgate/framework/topology"
)

// exchangePeerings adds the PEERING_* routes every peering brings, then marks the imports that
// lose to local routes. It must run after all local routes exist and before any peering route
// is added, so what a VPC exports is exactly its local routes.
func (m *Model) exchangePeerings() {
	imports := map[string][]Route{}
	for _, l := range m.topo.Links {
		if l.Type != topology.LinkPeering {
			continue
		}
		for _, s := range []sidedLink{{l, l.A, l.B}, {l, l.B, l.A}} {
			imports[s.Them.VPC] = append(imports[s.Them.VPC], m.export(s)...)
		}
	}
	for vpc, rs := range imports {
		local := m.routes[vpc]
		for i := range rs {
			rs[i].Imported, rs[i].Note = precedence(local, rs[i])
		}
		m.routes[vpc] = append(m.routes[vpc], rs...)
	}
}

// export returns the routes s.Me's VPC sends over peering s to s.Them's VPC, not yet checked
// against the importer's own routes.
func (m *Model) export(s sidedLink) []Route {
	from, to := s.Me, s.Them
	var out []Route
	for _, r := range m.routes[from.VPC] {
		p := r
		p.VPC, p.Link, p.NextHopVPC = to.VPC, s.Name, from.VPC
		switch r.Type {
		case Subnet:
			// GCP: subnet routes (primary and secondary ranges) are always exchanged over a
			// peering and cannot be turned off; they apply in all regions.
			p.Type, p.Region = PeeringSubnet, ""
			p.Note = fmt.Sprintf("%s of %s, exchanged over peering %s", r.Note, from.VPC, s.Name)
		case Static, Dynamic:
			if r.Gateway != "" {
				// GCP: routes whose next hop is the default internet gateway are never
				// exchanged over a peering; each network uses its own.
				continue
			}
			// GCP: custom (static and dynamic) routes cross only when the exporter sets
			// exportCustomRoutes AND the importer sets importCustomRoutes.
			if !from.ExportCustomRoutes || !to.ImportCustomRoutes {
				continue
			}
			p.Type = PeeringStatic
			if r.Type == Dynamic {
				p.Type = PeeringDynamic
			}
			// GCP: a dynamic route crossing a peering follows the EXPORTING network's routing
			// mode — r.Region already holds it (the learning router's region if REGIONAL).
			p.Note = fmt.Sprintf("%s route of %s (%s), imported over peering %s", r.Type.words(), from.VPC, r.Note, s.Name)
		default:
			// GCP: peering is not transitive — a route learned over a peering is never passed
			// on to a third network.
			continue
		}
		out = append(out, p)
	}
	return out
}

// precedence decides whether imported route r is used in a VPC whose local routes are local,
// and returns the note to keep.
func precedence(local []Route, r Route) (bool, string) {
	// GCP: a local subnet route wins over an imported route whose destination equals or fits
	// within it; the import shows imported=false. (GCP refuses to peer networks whose subnet
	// ranges overlap, so a PEERING_SUBNET conflict means the peering could not exist.)
	if sr, ok := subnetCovering(local, r.Prefix); ok {
		return false, fmt.Sprintf("%s; not imported: %s conflicts with local subnet route %s (local subnet routes win)",
			r.Note, r.Prefix, sr.Prefix)
	}
	// GCP: a local static or dynamic route with the same destination wins over the import.
	for _, l := range local {
		if (l.Type == Static || l.Type == Dynamic) && l.Prefix == r.Prefix {
			return false, fmt.Sprintf("%s; not imported: local %s route %s wins", r.Note, l.Type.words(), l.Prefix)
		}
	}
	return true, r.Note
}

// customFlagProblem says which peering flags keep s.Them's custom routes out of s.Me's VPC,
// or "" if both are set.
func customFlagProblem(s sidedLink) string {
	var off []string
	if !s.Them.ExportCustomRoutes {
		off = append(off, fmt.Sprintf("exportCustomRoutes is false on %s's side", s.Them.VPC))
	}
	if !s.Me.ImportCustomRoutes {
		off = append(off, fmt.Sprintf("importCustomRoutes is false on %s's side", s.Me.VPC))
	}
	if len(off) == 0 {
		return ""
	}
	return fmt.Sprintf("peering %s does not carry custom routes from %s to %s: %s (custom routes cross only "+
		"when the exporter sets exportCustomRoutes and the importer sets importCustomRoutes)",
		s.Name, s.Them.VPC, s.Me.VPC, strings.Join(off, " and "))
}
