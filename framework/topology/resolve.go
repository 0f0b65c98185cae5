package topology

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// resolve converts a decoded file into the runtime model and applies the
// defaults. It never fails: a value that does not parse becomes the zero
// value, and validate reports it. Slices keep the file's order and length, so
// index i of a resolved slice is index i of the file's.
func resolve(source string, f *File) *Topology {
	t := &Topology{
		Name:        f.Metadata.Name,
		Description: f.Metadata.Description,
		Source:      source,
	}
	for _, v := range f.Spec.VPCs {
		t.Networks = append(t.Networks, resolveVPC(v))
	}
	for _, h := range f.Spec.Hosts {
		m := &Machine{Name: h.Name, VPC: h.VPC, Subnet: h.Subnet, IP: address(h.IP), Role: h.Role, Tags: h.Tags}
		if sv := h.Service; sv != nil {
			m.Service = &ManagedService{Kind: sv.Kind, TLS: sv.TLS == nil || *sv.TLS, Auth: sv.Auth == nil || *sv.Auth}
		}
		if m.Role == "" {
			m.Role = RoleVM
		}
		if s := t.subnet(h.VPC, h.Subnet); s != nil {
			m.Region = s.Region
		}
		t.Hosts = append(t.Hosts, m)
	}
	for _, l := range f.Spec.Links {
		c := &Connection{Name: l.Name, Type: l.Type, A: Endpoint(l.A), B: Endpoint(l.B), Solution: l.Solution, Tunnels: l.Tunnels, Impairment: l.Impairment}
		if c.Solution != "" && c.Tunnels == 0 {
			c.Tunnels = DefaultTunnels
		}
		t.Links = append(t.Links, c)
	}
	if f.Spec.Cluster != nil {
		t.Cluster = resolveCluster(t, f.Spec.Cluster)
	}
	return t
}

func resolveVPC(v VPC) *Network {
	n := &Network{Name: v.Name, Cloud: v.Cloud, ManagedBy: v.ManagedBy, RoutingMode: v.RoutingMode}
	if n.Cloud == "" {
		n.Cloud = CloudGCP
	}
	if n.GCP() && n.RoutingMode == "" {
		n.RoutingMode = RoutingRegional
	}
	for _, s := range v.Subnets {
		sn := &Subnetwork{Name: s.Name, Region: s.Region, CIDR: prefix(s.CIDR)}
		for _, r := range s.SecondaryRanges {
			sn.Secondary = append(sn.Secondary, NamedRange{Name: r.Name, CIDR: prefix(r.CIDR)})
		}
		n.Subnets = append(n.Subnets, sn)
	}
	for _, r := range v.AllocatedRanges {
		n.Allocated = append(n.Allocated, NamedRange{Name: r.Name, CIDR: prefix(r.CIDR)})
	}
	for _, r := range v.Routers {
		cr := &CloudRouter{Name: r.Name, Region: r.Region, ASN: r.ASN, Advertise: Advertisement{Mode: AdvertiseDefault}}
		if cr.ASN == 0 {
			cr.ASN = defaultASN(n)
		}
		if a := r.Advertise; a != nil {
			if a.Mode != "" {
				cr.Advertise.Mode = a.Mode
			}
			cr.Advertise.Groups = a.Groups
			for _, s := range a.Ranges {
				cr.Advertise.Ranges = append(cr.Advertise.Ranges, prefix(s))
			}
		}
		n.Routers = append(n.Routers, cr)
	}
	for _, f := range v.Firewall {
		r := &Rule{Name: f.Name, Deny: f.Action == "deny", Priority: DefaultFirewallPriority, TargetTags: f.TargetTags}
		if f.Priority != nil {
			r.Priority = *f.Priority
		}
		for _, s := range f.SourceRanges {
			r.Sources = append(r.Sources, prefix(s))
		}
		if len(f.Ports) == 0 {
			r.Ports = []PortRange{{Proto: "all"}}
		}
		for _, s := range f.Ports {
			pr, _ := ParsePortRange(s)
			r.Ports = append(r.Ports, pr)
		}
		n.Firewall = append(n.Firewall, r)
	}
	return n
}

// ParsePortRange reads "all", "tcp", "udp", "icmp", "tcp:443" or "tcp:1000-2000"; the string
// is the problem in words, "" when s is fine.
func ParsePortRange(s string) (PortRange, string) {
	proto, ports, hasPorts := strings.Cut(s, ":")
	switch proto {
	case "all", "icmp":
		if hasPorts {
			return PortRange{}, fmt.Sprintf("%q: %s has no ports (write %s)", s, proto, proto)
		}
		return PortRange{Proto: proto}, ""
	case "tcp", "udp":
	default:
		return PortRange{}, fmt.Sprintf("%q: protocol %q is not one of tcp, udp, icmp, all (write e.g. tcp:443)", s, proto)
	}
	if !hasPorts {
		return PortRange{Proto: proto}, ""
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	if !isRange {
		hi = lo
	}
	a, errA := strconv.ParseUint(lo, 10, 16)
	b, errB := strconv.ParseUint(hi, 10, 16)
	if errA != nil || errB != nil || a == 0 || a > b {
		return PortRange{}, fmt.Sprintf("%q: ports must be a number or a range LOW-HIGH within 1-65535 (write e.g. %s:443 or %s:30000-32767)", s, proto, proto)
	}
	return PortRange{Proto: proto, Lo: uint16(a), Hi: uint16(b)}, ""
}

func resolveCluster(t *Topology, c *Cluster) *GKECluster {
	g := &GKECluster{
		Name:              c.Name,
		Location:          c.Location,
		VPC:               c.VPC,
		Subnet:            c.Subnet,
		MasterVPC:         c.MasterVPC,
		MasterCIDR:        prefix(c.MasterCIDR),
		PrivateEndpoint:   address(c.PrivateEndpoint),
		Peering:           c.Peering,
		KubernetesVersion: c.KubernetesVersion,
	}
	if g.KubernetesVersion == "" {
		g.KubernetesVersion = DefaultK8sVersion
	}
	cpVPC := c.MasterVPC
	if e := c.Endpoint; e != nil && e.Mode == EndpointPSC {
		g.PSC, g.EndpointSubnet, g.GlobalAccess, cpVPC = true, c.Subnet, e.GlobalAccess, c.VPC
		if e.Subnet != "" {
			g.EndpointSubnet = e.Subnet
		}
		if s := t.subnet(c.VPC, g.EndpointSubnet); s != nil {
			g.EndpointRegion = s.Region
		}
	}
	if d := c.DNSEndpoint; d != nil && d.Enabled {
		g.DNS = &ResolvedDNSEndpoint{Name: DNSEndpointName(c.Name, c.Location), AllowExternalTraffic: d.AllowExternalTraffic}
	}
	if a := c.AuthorizedNetworks; a != nil && a.Enabled {
		g.Authorized = &Authorized{PrivateEndpointEnforcement: a.PrivateEndpointEnforcement}
		for _, b := range a.CIDRBlocks {
			g.Authorized.CIDRBlocks = append(g.Authorized.CIDRBlocks, prefix(b))
		}
	}
	if s := t.subnet(c.VPC, c.Subnet); s != nil {
		g.NodeRange = s.CIDR
		g.PodRange = s.secondary(c.PodRange)
		g.ServiceRange = s.secondary(c.ServiceRange)
	}
	for _, h := range t.Hosts {
		switch {
		case h.Role == RoleNode:
			g.Nodes = append(g.Nodes, h.Name)
		case h.Role == RoleControlPlane && h.VPC == cpVPC && g.ControlPlane == "":
			g.ControlPlane = h.Name
		}
	}
	return g
}

// Subnet returns the named subnet of the VPC, or nil.
func (n *Network) Subnet(name string) *Subnetwork {
	for _, s := range n.Subnets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// subnet is the named subnet of the named VPC, or nil.
func (t *Topology) subnet(vpc, name string) *Subnetwork {
	if n := t.Network(vpc); n != nil {
		return n.Subnet(name)
	}
	return nil
}

// secondary is the CIDR of the named secondary range (zero if there is none).
func (s *Subnetwork) secondary(name string) netip.Prefix {
	for _, r := range s.Secondary {
		if r.Name == name {
			return r.CIDR
		}
	}
	return netip.Prefix{}
}

// subnetWithCIDR is the subnet of n whose primary range is p, or nil.
func (n *Network) subnetWithCIDR(p netip.Prefix) *Subnetwork {
	for _, s := range n.Subnets {
		if s.CIDR == p {
			return s
		}
	}
	return nil
}

// allValid reports whether every primary range of n parsed.
func allValid(n *Network) bool {
	for _, s := range n.Subnets {
		if !s.CIDR.IsValid() {
			return false
		}
	}
	return true
}
