// Package netmodel computes, from a resolved topology, the routes every VPC has under GCP's
// rules for VPC routes, VPC Network Peering and Cloud Router dynamic routing (public GCP
// documentation: "Routes", "VPC Network Peering", "Cloud Router overview"); each rule is
// stated where it is applied, in a comment starting "GCP:". It is the single source of truth
// for routing: the realizer programs exactly these routes and `explain` reads the same model.
//
// Compute works in three passes whose inputs never depend on their own outputs, so no
// fixed-point iteration is needed:
//  1. SUBNET routes from each VPC's subnets (model.go);
//  2. DYNAMIC routes learned over interconnects and VPNs from the routers' advertisements,
//     which depend only on subnets and configured ranges (bgp.go);
//  3. PEERING_* routes: each side's SUBNET routes and, with the flags, its own STATIC and
//     DYNAMIC routes; never routes the exporter itself imported over a peering (peering.go).
package netmodel

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"reachgate/framework/topology"
)

// RouteType is the kind of a route, named as in the compute API.
type RouteType string

// Route types.
const (
	Subnet         RouteType = "SUBNET"
	Static         RouteType = "STATIC"
	Dynamic        RouteType = "DYNAMIC"
	PeeringSubnet  RouteType = "PEERING_SUBNET"
	PeeringStatic  RouteType = "PEERING_STATIC"
	PeeringDynamic RouteType = "PEERING_DYNAMIC"
)

// DefaultDynamicPriority is the priority of a learned route when the advertiser sets none
// (Cloud Router's advertisedRoutePriority default).
const DefaultDynamicPriority = 100

// rank orders types: local before peering, subnet before static before dynamic.
func (t RouteType) rank() int {
	switch t {
	case Subnet:
		return 0
	case Static:
		return 1
	case Dynamic:
		return 2
	case PeeringSubnet:
		return 3
	case PeeringStatic:
		return 4
	case PeeringDynamic:
		return 5
	}
	return 6
}

// Peering reports whether routes of this type were imported over a VPC peering.
func (t RouteType) Peering() bool {
	return t == PeeringSubnet || t == PeeringStatic || t == PeeringDynamic
}

// words is the type in plain words, for explanations.
func (t RouteType) words() string {
	switch t {
	case Subnet:
		return "subnet"
	case Static:
		return "static"
	case Dynamic:
		return "dynamic"
	case PeeringSubnet:
		return "peering subnet"
	case PeeringStatic:
		return "peering static"
	case PeeringDynamic:
		return "peering dynamic"
	}
	return string(t)
}

// Route is one entry of a VPC's routing table.
type Route struct {
	VPC        string // the VPC whose table holds it
	Prefix     netip.Prefix
	Type       RouteType
	Link       string // "" for local subnet routes; else the link the next hop is across
	NextHopVPC string // the VPC on the other side of Link ("" for local)
	Region     string // "" = all regions; else only traffic entering in that region
	Priority   int    // 0 for subnet routes; 100 for dynamic unless set
	Origin     string // VPC (or "<vpc>/<router>") where the route was born
	Imported   bool   // peering routes: false when it lost to a local route (display only)
	Note       string // short plain-words reason
	// Gateway names a next hop outside every VPC: DefaultInternetGateway for the route that
	// leads to Google's API front end. Link and NextHopVPC are empty then.
	Gateway string
}

// Effective reports whether the route is used for forwarding.
func (r Route) Effective() bool { return r.Imported || !r.Type.Peering() }

// AppliesIn reports whether the route applies to traffic that entered in region. A regional
// route never applies to traffic whose region is unknown ("").
func (r Route) AppliesIn(region string) bool { return r.Region == "" || r.Region == region }

// Model is the computed routing state of a topology. It is read-only after Compute and safe
// for concurrent use.
type Model struct {
	topo   *topology.Topology
	nets   map[string]*topology.Network
	links  map[string]*topology.Connection
	routes map[string][]Route
	adv    map[string][]netip.Prefix // key: advKey(link, vpc)
}

// Compute derives every VPC's routes from t. It fails only on inconsistent input.
func Compute(t *topology.Topology) (*Model, error) {
	if t == nil {
		return nil, fmt.Errorf("compute routes: no topology")
	}
	m := &Model{
		topo:   t,
		nets:   map[string]*topology.Network{},
		links:  map[string]*topology.Connection{},
		routes: map[string][]Route{},
		adv:    map[string][]netip.Prefix{},
	}
	if err := m.index(); err != nil {
		return nil, fmt.Errorf("compute routes: %w", err)
	}
	for _, n := range t.Networks {
		m.routes[n.Name] = append(subnetRoutes(n), googleAPIsRoutes(t, n)...)
	}
	if err := m.learnDynamic(); err != nil {
		return nil, fmt.Errorf("compute routes: %w", err)
	}
	m.exchangePeerings()
	for vpc := range m.routes {
		sortRoutes(m.routes[vpc])
	}
	return m, nil
}

// index checks references and builds the lookup maps.
func (m *Model) index() error {
	for _, n := range m.topo.Networks {
		if _, dup := m.nets[n.Name]; dup {
			return fmt.Errorf("vpc %q is declared twice", n.Name)
		}
		for _, s := range n.Subnets {
			for _, p := range s.Prefixes() {
				if !p.IsValid() {
					return fmt.Errorf("vpc %q subnet %q has an invalid range", n.Name, s.Name)
				}
			}
		}
		m.nets[n.Name] = n
	}
	for _, l := range m.topo.Links {
		if _, dup := m.links[l.Name]; dup {
			return fmt.Errorf("link %q is declared twice", l.Name)
		}
		if err := m.checkLink(l); err != nil {
			return fmt.Errorf("link %q: %w", l.Name, err)
		}
		m.links[l.Name] = l
	}
	return nil
}

func (m *Model) checkLink(l *topology.Connection) error {
	for _, e := range []topology.Endpoint{l.A, l.B} {
		if m.nets[e.VPC] == nil {
			return fmt.Errorf("unknown vpc %q", e.VPC)
		}
		if e.Router != "" && m.nets[e.VPC].Router(e.Router) == nil {
			return fmt.Errorf("vpc %q has no router %q", e.VPC, e.Router)
		}
	}
	if l.A.VPC == l.B.VPC {
		return fmt.Errorf("both sides are vpc %q", l.A.VPC)
	}
	switch l.Type {
	case topology.LinkPeering:
		// VPC Network Peering joins two VPC networks; a third-party cloud cannot be a peer.
		for _, e := range []topology.Endpoint{l.A, l.B} {
			if !m.nets[e.VPC].GCP() {
				return fmt.Errorf("peering needs gcp vpcs; %q is %s", e.VPC, m.nets[e.VPC].Cloud)
			}
		}
	case topology.LinkInterconnect, topology.LinkVPN:
		// Dynamic routing on a VLAN attachment or HA VPN tunnel needs a Cloud Router on the
		// GCP side; a third-party side without a router just announces its subnets.
		for _, e := range []topology.Endpoint{l.A, l.B} {
			if e.Router == "" && m.nets[e.VPC].GCP() {
				return fmt.Errorf("%s side in gcp vpc %q names no cloud router", l.Type, e.VPC)
			}
		}
	default:
		return fmt.Errorf("link type %q is not supported; supported: %s, %s, %s",
			l.Type, topology.LinkPeering, topology.LinkInterconnect, topology.LinkVPN)
	}
	return nil
}

// subnetRoutes gives a VPC one SUBNET route per primary and secondary range.
// GCP: subnet routes are created for every subnet IP range and apply to the whole VPC,
// whatever its dynamic routing mode (Region "").
func subnetRoutes(n *topology.Network) []Route {
	var out []Route
	for _, s := range n.Subnets {
		add := func(p netip.Prefix, note string) {
			out = append(out, Route{VPC: n.Name, Prefix: p.Masked(), Type: Subnet, Origin: n.Name, Note: note})
		}
		add(s.CIDR, fmt.Sprintf("subnet %s (%s)", s.Name, s.Region))
		for _, r := range s.Secondary {
			add(r.CIDR, fmt.Sprintf("secondary range %s of subnet %s (%s)", r.Name, s.Name, s.Region))
		}
	}
	return out
}

func sortRoutes(rs []Route) {
	slices.SortStableFunc(rs, func(a, b Route) int {
		return cmp.Or(
			a.Prefix.Compare(b.Prefix),
			cmp.Compare(a.Type.rank(), b.Type.rank()),
			cmp.Compare(a.Link, b.Link),
			cmp.Compare(a.NextHopVPC, b.NextHopVPC),
			cmp.Compare(a.Region, b.Region),
			cmp.Compare(a.Origin, b.Origin),
		)
	})
}

// Routes returns all routes of vpc, including peering routes that were not imported, ordered
// by prefix, then type.
func (m *Model) Routes(vpc string) []Route { return slices.Clone(m.routes[vpc]) }

// Effective returns the routes of vpc used for forwarding.
func (m *Model) Effective(vpc string) []Route {
	var out []Route
	for _, r := range m.routes[vpc] {
		if r.Effective() {
			out = append(out, r)
		}
	}
	return out
}

// Lookup returns the route vpc uses for dst for traffic that entered in region: the longest
// matching prefix among effective routes applying there (GCP routing order: most specific
// destination first), then the lowest priority value, then local before peering routes.
func (m *Model) Lookup(vpc string, dst netip.Addr, region string) (Route, bool) {
	var best Route
	found := false
	for _, r := range m.routes[vpc] {
		if !r.Effective() || !r.AppliesIn(region) || !r.Prefix.Contains(dst) {
			continue
		}
		if !found || better(r, best) {
			best, found = r, true
		}
	}
	return best, found
}

// better reports whether a wins over b for the same destination. Routes arrive sorted, so
// a full tie keeps the first one and the choice is deterministic.
func better(a, b Route) bool {
	if a.Prefix.Bits() != b.Prefix.Bits() {
		return a.Prefix.Bits() > b.Prefix.Bits()
	}
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	return a.Type.rank() < b.Type.rank()
}

// Advertised returns what the router on vpc's side of interconnect or VPN link announces,
// sorted; nil for peerings and unknown links.
func (m *Model) Advertised(link, vpc string) []netip.Prefix {
	return slices.Clone(m.adv[advKey(link, vpc)])
}

func advKey(link, vpc string) string { return link + "\x00" + vpc }

// linksOf returns the links touching vpc, in topology order, with vpc's side first.
func (m *Model) linksOf(vpc string) []sidedLink {
	var out []sidedLink
	for _, l := range m.topo.Links {
		switch vpc {
		case l.A.VPC:
			out = append(out, sidedLink{l, l.A, l.B})
		case l.B.VPC:
			out = append(out, sidedLink{l, l.B, l.A})
		}
	}
	return out
}

// sidedLink is a link seen from one side.
type sidedLink struct {
	*topology.Connection
	Me, Them topology.Endpoint
}
