package lint

import (
	"errors"
	"net/netip"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"reachgate/framework/findings"
	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
)

// topologyFile is a parsed reachgate topology with its node tree for line numbers.
type topologyFile struct {
	t   *topology.Topology
	doc *doc
}

func parseTopology(file string, data []byte) (*topologyFile, *InputError) {
	t, err := topology.Parse(file, data)
	if err != nil {
		var te *topology.Error
		if errors.As(err, &te) {
			msg := te.Msg
			if te.Field != "" {
				msg = te.Field + ": " + msg
			}
			return nil, &InputError{File: file, Line: te.Line, Msg: "topology: " + msg}
		}
		return nil, &InputError{File: file, Msg: err.Error()}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil, &InputError{File: file, Line: 1, Msg: "topology: cannot read the YAML again for line numbers"}
	}
	return &topologyFile{t: t, doc: &doc{file: file, lines: strings.Split(string(data), "\n"), node: root.Content[0], kind: topology.Kind}}, nil
}

// topologyDetectors are the checks of topology files, by the name the catalog uses.
var topologyDetectors = map[string]func(*topologyFile) []findings.Finding{
	"lint.topologyPeeringImport":    topologyPeeringImport,
	"lint.topologyCrossRegion":      topologyCrossRegion,
	"lint.topologyPSAExport":        topologyPSAExport,
	"lint.topologyPSCGlobalAccess":  topologyPSCGlobalAccess,
	"lint.topologyDNSEndpointRange": topologyDNSEndpointRange,
}

func runTopology(t *topologyFile) []findings.Finding {
	var out []findings.Finding
	for _, name := range sortedKeys(topologyDetectors) {
		out = append(out, topologyDetectors[name](t)...)
	}
	return out
}

// topologyPeeringImport flags importCustomRoutes on the customer side of the GKE peering.
func topologyPeeringImport(f *topologyFile) []findings.Finding {
	c := f.t.Cluster
	if c == nil {
		return nil
	}
	var out []findings.Finding
	for i, l := range f.t.Links {
		if l.Type != topology.LinkPeering || l.Name != c.Peering {
			continue
		}
		for side, e := range []topology.Endpoint{l.A, l.B} {
			if e.VPC == c.VPC && e.ImportCustomRoutes {
				out = append(out, findings.New("RG-PEER-001", f.doc.evidence("spec", "links", i, string(rune('a'+side)), "importCustomRoutes"),
					"peering %s imports custom routes into %s: only exportCustomRoutes is needed there", l.Name, e.VPC))
			}
		}
	}
	return out
}

// region is a location's region: us-central1-c -> us-central1.
func region(location string) string {
	parts := strings.Split(location, "-")
	if len(parts) == 3 && len(parts[2]) == 1 {
		return parts[0] + "-" + parts[1]
	}
	return location
}

// topologyCrossRegion flags a VPN or interconnect whose GCP router is in another region than
// the cluster while the router's VPC routes dynamically per region.
func topologyCrossRegion(f *topologyFile) []findings.Finding {
	c := f.t.Cluster
	if c == nil {
		return nil
	}
	want := region(c.Location)
	var out []findings.Finding
	for _, u := range uplinkRouters(f.t) {
		if u.router.Region == want || u.network.RoutingMode == topology.RoutingGlobal {
			continue
		}
		out = append(out, findings.New("RG-NET-001", f.doc.evidence("spec", "links", u.index, u.side, "router"),
			"%s %s ends at router %s in %s, the cluster is in %s, and VPC %s routes %s: routes it learns never reach %s",
			u.link.Type, u.link.Name, u.router.Name, u.router.Region, want, u.network.Name, u.network.RoutingMode, want))
	}
	return out
}

// uplinkRouter is the GCP side of an interconnect or VPN link: spec.links[index].<side>.
type uplinkRouter struct {
	index   int
	side    string
	link    *topology.Connection
	network *topology.Network
	router  *topology.CloudRouter
}

// uplinkRouters lists the Cloud Routers that interconnects and VPNs land on, in file order.
func uplinkRouters(t *topology.Topology) []uplinkRouter {
	var out []uplinkRouter
	for i, l := range t.Links {
		if l.Type != topology.LinkVPN && l.Type != topology.LinkInterconnect {
			continue
		}
		for _, end := range []struct {
			side string
			e    topology.Endpoint
		}{{"a", l.A}, {"b", l.B}} {
			n := t.Network(end.e.VPC)
			if n == nil || !n.GCP() || end.e.Router == "" {
				continue
			}
			if r := n.Router(end.e.Router); r != nil {
				out = append(out, uplinkRouter{index: i, side: end.side, link: l, network: n, router: r})
			}
		}
	}
	return out
}

// topologyPSAExport flags the bgp-export fix applied to the GKE peering only while a managed
// service (Memorystore) is reached over Private Service Access from the same VPC: the VPC's
// side of the GKE peering exports custom routes and its side of servicenetworking-googleapis-com
// does not (at that side of the link), or a Cloud Router of the VPC announces the master range
// in a CUSTOM advertisement but no range covering the allocated range that holds the service
// (at the router's ranges).
func topologyPSAExport(f *topologyFile) []findings.Finding {
	c := f.t.Cluster
	if c == nil || len(f.t.HostsWithRole(topology.RoleManagedService)) == 0 {
		return nil
	}
	psa := f.t.Link(topology.PeeringServiceNetworking)
	gke := f.t.Link(c.Peering)
	if psa == nil || gke == nil {
		return nil
	}
	// The consumer is the side of the PSA peering that is the cluster's VPC.
	side := "a"
	me, producer := psa.A, psa.B
	if psa.B.VPC == c.VPC {
		side, me, producer = "b", psa.B, psa.A
	}
	if me.VPC != c.VPC {
		return nil // Private Service Access from another VPC: the GKE peering's export is not the question
	}
	var out []findings.Finding
	gkeSide, _ := gke.Side(c.VPC)
	if gkeSide.ExportCustomRoutes && !me.ExportCustomRoutes {
		i := slices.IndexFunc(f.t.Links, func(l *topology.Connection) bool { return l == psa })
		out = append(out, findings.New("RG-PEER-002", f.doc.evidence("spec", "links", i, side, "exportCustomRoutes"),
			"VPC %s exports custom routes over the GKE peering %s but not over %s: replies from the managed services in %s have no route back to the ranges %s learns over its VPN or interconnect (set exportCustomRoutes: true on %s's side)",
			c.VPC, gke.Name, psa.Name, producer.VPC, c.VPC, c.VPC))
	}
	// The allocated ranges holding a managed service of the producer VPC.
	var held []topology.NamedRange
	if n := f.t.Network(c.VPC); n != nil {
		for _, a := range n.Allocated {
			if slices.ContainsFunc(f.t.HostsWithRole(topology.RoleManagedService), func(h *topology.Machine) bool {
				return h.VPC == producer.VPC && a.CIDR.Contains(h.IP)
			}) {
				held = append(held, a)
			}
		}
	}
	vi := slices.IndexFunc(f.t.Networks, func(n *topology.Network) bool { return n.Name == c.VPC })
	if vi < 0 {
		return out
	}
	for ri, r := range f.t.Networks[vi].Routers {
		ad := r.Advertise
		if ad.Mode != topology.AdvertiseCustom || !covered(ad.Ranges, c.MasterCIDR) {
			continue
		}
		var missing, cidrs []string
		for _, a := range held {
			if !covered(ad.Ranges, a.CIDR) {
				missing = append(missing, a.Name+" "+a.CIDR.String())
				cidrs = append(cidrs, a.CIDR.String())
			}
		}
		if len(missing) == 0 {
			continue
		}
		out = append(out, findings.New("RG-PEER-002", f.doc.evidence("spec", "vpcs", vi, "routers", ri, "advertise", "ranges"),
			"router %s announces the master range %s but not the allocated range %s, where the managed services of %s live: the third party has no route to them (add %s to ranges)",
			r.Name, c.MasterCIDR, strings.Join(missing, ", "), producer.VPC, strings.Join(cidrs, ", ")))
	}
	return out
}

// covered reports whether one of ranges contains p.
func covered(ranges []netip.Prefix, p netip.Prefix) bool {
	return slices.ContainsFunc(ranges, func(r netip.Prefix) bool {
		return r.IsValid() && p.IsValid() && r.Bits() <= p.Bits() && r.Contains(p.Addr())
	})
}

// topologyPSCGlobalAccess flags a Private Service Connect cluster without control plane global
// access when an interconnect or VPN lands on a Cloud Router in another region than the
// endpoint's: that side's clients enter the VPC there and time out (at the link's router).
func topologyPSCGlobalAccess(f *topologyFile) []findings.Finding {
	c := f.t.Cluster
	if c == nil || !c.PSC || c.GlobalAccess {
		return nil
	}
	var out []findings.Finding
	for _, u := range uplinkRouters(f.t) {
		if u.router.Region == c.EndpointRegion {
			continue
		}
		out = append(out, findings.New("RG-NET-003", f.doc.evidence("spec", "links", u.index, u.side, "router"),
			"%s %s ends at router %s in %s, and cluster %s's Private Service Connect endpoint %s is in %s without control plane global access: clients across %s time out",
			u.link.Type, u.link.Name, u.router.Name, u.router.Region, c.Name, c.PrivateEndpoint, c.EndpointRegion, u.link.Name))
	}
	return out
}

// topologyDNSEndpointRange flags the uplink routers that do not announce private.googleapis.com
// while the cluster's DNS-based endpoint takes user traffic: the third-party VM cannot reach it.
func topologyDNSEndpointRange(f *topologyFile) []findings.Finding {
	c := f.t.Cluster
	if c == nil || c.DNS == nil || !c.DNS.AllowExternalTraffic {
		return nil
	}
	var out []findings.Finding
	for _, u := range uplinkRouters(f.t) {
		a := u.router.Advertise
		if a.Mode == topology.AdvertiseCustom && slices.ContainsFunc(a.Ranges, func(p netip.Prefix) bool {
			return p.Bits() <= netmodel.PrivateGoogleAPIs.Bits() && p.Contains(netmodel.PrivateGoogleAPIs.Addr())
		}) {
			continue
		}
		out = append(out, findings.New("RG-NET-004", f.doc.evidence("spec", "links", u.index, u.side, "router"),
			"%s %s ends at router %s, which does not announce %s (private.googleapis.com), and cluster %s's DNS-based endpoint %s takes user traffic: the other cloud has no route to it",
			u.link.Type, u.link.Name, u.router.Name, netmodel.PrivateGoogleAPIs, c.Name, c.DNS.Name))
	}
	return out
}
