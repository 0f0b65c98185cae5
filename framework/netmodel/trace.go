package netmodel

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"reachgate/framework/topology"
)

// MaxHops bounds a path walk; a packet still travelling after it is in a routing loop.
const MaxHops = 16

// Trace is the forward and return path between two addresses.
type Trace struct {
	Reachable bool // both paths delivered, and the destination admits the flow
	Flow      Flow // zero when only routing was judged
	Forward   Path
	Return    Path
	// Admission is the destination's verdict on the flow (firewall, authorized networks);
	// set when the forward path was delivered and a flow was given.
	Admission *Admission
	Reason    string // plain words for a platform engineer
}

// Path is the walk of a packet from VPC to VPC.
type Path struct {
	Hops      []Hop
	Delivered bool
	Blocked   string // plain words why it stopped ("" when delivered)
}

// Hop is one VPC a packet crossed and the decision taken there.
type Hop struct {
	VPC    string
	Region string // region the packet is treated as entering in ("" unknown)
	Route  *Route // nil where no route
	Note   string
}

// place is where an address lives: a host, or a bare address inside a subnet.
type place struct {
	addr   netip.Addr
	host   string
	vpc    string
	subnet string
	region string
	// shared is set when the address was looked up and hosts of several VPCs hold it (VPCs
	// that nothing joins may use the same ranges): the packet is delivered where routing
	// takes it.
	shared bool
}

func (p place) String() string {
	if p.host != "" {
		return fmt.Sprintf("%s (%s, vpc %s)", p.host, p.addr, p.vpc)
	}
	return fmt.Sprintf("%s (subnet %s of vpc %s)", p.addr, p.subnet, p.vpc)
}

// locate finds the host with address a, or else the subnet range containing it (the most
// specific one; the first in file order on a tie).
func (m *Model) locate(a netip.Addr) (place, bool) {
	for i, h := range m.topo.Hosts {
		if h.IP == a {
			p := m.placeOf(h)
			p.shared = slices.ContainsFunc(m.topo.Hosts[i+1:], func(o *topology.Machine) bool { return o.IP == a })
			return p, true
		}
	}
	var best place
	bits := -1
	for _, n := range m.topo.Networks {
		for _, s := range n.Subnets {
			for _, pr := range s.Prefixes() {
				if pr.Contains(a) && pr.Bits() > bits {
					best, bits = place{addr: a, vpc: n.Name, subnet: s.Name, region: s.Region}, pr.Bits()
				}
			}
		}
	}
	return best, bits >= 0
}

// hostAt is the host of vpc with address a, or nil.
func (m *Model) hostAt(vpc string, a netip.Addr) *topology.Machine {
	for _, h := range m.topo.Hosts {
		if h.VPC == vpc && h.IP == a {
			return h
		}
	}
	return nil
}

// placeOf is where host h lives.
func (m *Model) placeOf(h *topology.Machine) place {
	p := place{addr: h.IP, host: h.Name, vpc: h.VPC, subnet: h.Subnet, region: h.Region}
	if s := m.subnet(h.VPC, h.Subnet); s != nil && p.region == "" {
		p.region = s.Region
	}
	return p
}

func (m *Model) subnet(vpc, name string) *topology.Subnetwork {
	if n := m.nets[vpc]; n != nil {
		for _, s := range n.Subnets {
			if s.Name == name {
				return s
			}
		}
	}
	return nil
}

// TraceFlow is Trace plus the destination's admission of flow f: ingress firewall rules and
// master authorized networks. Replies need no admission (GCP firewalls are stateful).
func (m *Model) TraceFlow(src, dst netip.Addr, f Flow) Trace {
	return m.admit(m.Trace(src, dst), src, dst, f)
}

// TraceFlowFrom is TraceFlow from the host named host, placed by its VPC rather than found by
// its address: VPCs that nothing joins may use the same ranges.
func (m *Model) TraceFlowFrom(host string, dst netip.Addr, f Flow) Trace {
	h := m.topo.Host(host)
	if h == nil {
		return Trace{Reason: fmt.Sprintf("no host %q in the topology", host)}
	}
	return m.admit(m.traceFrom(m.placeOf(h), dst), h.IP, dst, f)
}

// admit adds the destination's admission of flow f to t, the trace of src to dst.
func (m *Model) admit(t Trace, src, dst netip.Addr, f Flow) Trace {
	t.Flow = f
	if f.Proto == "" || !t.Forward.Delivered {
		return t
	}
	// The instance the packet reached: of several VPCs' hosts with dst, the one routing chose.
	h := m.Instance(dst)
	if at := m.hostAt(t.Forward.Hops[len(t.Forward.Hops)-1].VPC, dst); at != nil {
		h = at
	}
	a := m.admitTo(src, dst, h, f)
	t.Admission = &a
	if a.Allowed {
		return t
	}
	t.Reachable = false
	last := &t.Forward.Hops[len(t.Forward.Hops)-1]
	last.Note += "; refused: " + a.Reason
	t.Forward.Delivered = false
	t.Forward.Blocked = a.Reason
	t.Reason = fmt.Sprintf("%s reaches the network of %s on %s (%s), but %s", src, dst, f, t.Forward.chain(), a.Reason)
	return t
}

// Trace walks the packet from src to dst and the reply from dst to src. src and dst are host
// addresses; either may also be any address inside a subnet, which is then delivered on
// reaching the VPC that owns the subnet. Ports and firewalls are not judged (see TraceFlow).
func (m *Model) Trace(src, dst netip.Addr) Trace {
	from, ok := m.locate(src)
	if !ok {
		return Trace{Reason: fmt.Sprintf("%s is neither a host's address nor inside any subnet of the topology", src)}
	}
	return m.traceFrom(from, dst)
}

// traceFrom is Trace from a place.
func (m *Model) traceFrom(from place, dst netip.Addr) Trace {
	to, ok := m.locate(dst)
	if !ok {
		return Trace{Reason: fmt.Sprintf("%s is neither a host's address nor inside any subnet of the topology", dst)}
	}
	t := Trace{Forward: m.walk(from, to)}
	if n := len(t.Forward.Hops); t.Forward.Delivered && to.shared && n > 0 {
		// The host routing delivered to, of those that hold the address.
		if h := m.hostAt(t.Forward.Hops[n-1].VPC, to.addr); h != nil {
			to = m.placeOf(h)
		}
	}
	t.Return = m.walk(to, from)
	t.Reachable = t.Forward.Delivered && t.Return.Delivered
	switch {
	case t.Reachable:
		t.Reason = fmt.Sprintf("%s reaches %s (%s) and the reply comes back (%s)",
			from, to, t.Forward.chain(), t.Return.chain())
	case !t.Forward.Delivered:
		t.Reason = fmt.Sprintf("%s cannot reach %s: %s", from, to, t.Forward.Blocked)
		if !t.Return.Delivered {
			t.Reason += "; nor could a reply come back: " + t.Return.Blocked
		}
	default:
		t.Reason = fmt.Sprintf("%s reaches %s (%s) but the reply does not come back: %s",
			from, to, t.Forward.chain(), t.Return.Blocked)
	}
	return t
}

// chain is the path's VPCs, "a → b → c".
func (p Path) chain() string {
	vpcs := make([]string, len(p.Hops))
	for i, h := range p.Hops {
		vpcs[i] = h.VPC
	}
	return strings.Join(vpcs, " → ")
}

// walk follows Lookup from VPC to VPC until delivery, a missing route or MaxHops.
func (m *Model) walk(from, to place) Path {
	var p Path
	vpc, region := from.vpc, from.region
	for len(p.Hops) < MaxHops {
		hop := Hop{VPC: vpc, Region: region}
		r, ok := m.Lookup(vpc, to.addr, region)
		if !ok {
			hop.Note = "no route"
			p.Hops = append(p.Hops, hop)
			p.Blocked = m.whyNoRoute(vpc, to, region, p.Hops)
			return p
		}
		hop.Route = &r
		if r.Type == Subnet {
			p.Hops = append(p.Hops, hop)
			// GCP: a local subnet route wins over anything imported, so the packet stays here.
			if vpc == to.vpc || (to.shared && m.hostAt(vpc, to.addr) != nil) {
				hop.Note = fmt.Sprintf("delivered: %s is in local %s", to.addr, r.Note)
				p.Hops[len(p.Hops)-1] = hop
				p.Delivered = true
				return p
			}
			p.Hops[len(p.Hops)-1].Note = "delivered to the wrong network"
			p.Blocked = fmt.Sprintf("%s VPC keeps %s in its own %s (local subnet routes win over "+
				"imported ones), but %s is in vpc %s", vpc, to.addr, r.Note, to, to.vpc)
			return p
		}
		hop.Note = fmt.Sprintf("%s route %s over %s %s to %s", r.Type, r.Prefix, m.links[r.Link].Type, r.Link, r.NextHopVPC)
		p.Hops = append(p.Hops, hop)
		region = m.entryRegion(r, region)
		vpc = r.NextHopVPC
	}
	p.Blocked = fmt.Sprintf("routing loop: %s is still not delivered after %d hops (%s)", to.addr, MaxHops, p.chain())
	return p
}

// entryRegion is the region a packet is treated as entering in after crossing r's link.
// Over an interconnect or VPN it is the region of the router terminating the link on the far
// side ("" without one). GCP: a peering does not move a packet between regions, so it keeps
// the region it had.
func (m *Model) entryRegion(r Route, cur string) string {
	l := m.links[r.Link]
	if l.Type == topology.LinkPeering {
		return cur
	}
	e := l.A
	if l.B.VPC == r.NextHopVPC {
		e = l.B
	}
	if rt := m.nets[e.VPC].Router(e.Router); rt != nil {
		return rt.Region
	}
	return ""
}
