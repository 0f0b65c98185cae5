package topology

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"
)

// Topology is a parsed, validated topology with defaults applied.
// Slices keep the file's order; lookups go through the methods.
type Topology struct {
	Name        string
	Description string
	// Source is the file it was read from ("" for in-memory input).
	Source   string
	Networks []*Network
	Hosts    []*Machine
	Links    []*Connection
	Cluster  *GKECluster
	// hostsLine is the line of spec.hosts in the file (0 for in-memory topologies).
	hostsLine int
}

// Network is a resolved VPC.
type Network struct {
	Name        string
	Cloud       string // "gcp" or the third-party cloud's name
	ManagedBy   string // "gke" for the Google-owned master VPC, "servicenetworking" for a PSA producer VPC
	RoutingMode string // "REGIONAL" or "GLOBAL" (gcp only; "" for others)
	Subnets     []*Subnetwork
	Routers     []*CloudRouter
	Firewall    []*Rule
	// Allocated are the VPC's Private Service Access ranges.
	Allocated []NamedRange
}

// Rule is a resolved ingress firewall rule.
type Rule struct {
	Name       string
	Deny       bool
	Priority   int
	Sources    []netip.Prefix
	Ports      []PortRange
	TargetTags []string
}

// PortRange is one protocol and port range of a firewall rule. Proto "all" matches every
// protocol; a zero Lo means every port of Proto.
type PortRange struct {
	Proto  string // "tcp", "udp", "icmp" or "all"
	Lo, Hi uint16
}

// String writes the range as in the file ("tcp:443", "tcp:1-2", "udp", "all").
func (p PortRange) String() string {
	switch {
	case p.Lo == 0:
		return p.Proto
	case p.Lo == p.Hi:
		return fmt.Sprintf("%s:%d", p.Proto, p.Lo)
	}
	return fmt.Sprintf("%s:%d-%d", p.Proto, p.Lo, p.Hi)
}

// Matches reports whether the range covers a packet of proto to port.
func (p PortRange) Matches(proto string, port uint16) bool {
	if p.Proto == "all" {
		return true
	}
	if p.Proto != proto {
		return false
	}
	return p.Lo == 0 || (port >= p.Lo && port <= p.Hi)
}

// Default firewall priority and the implied rules' priority, as in GCP.
const (
	DefaultFirewallPriority = 1000
	ImpliedRulePriority     = 65535
)

// GCP reports whether the network follows GCP's rules.
func (n *Network) GCP() bool { return n.Cloud == "gcp" }

// Subnetwork is a resolved subnet.
type Subnetwork struct {
	Name      string
	Region    string
	CIDR      netip.Prefix
	Secondary []NamedRange
}

// NamedRange is a named prefix (a secondary range).
type NamedRange struct {
	Name string
	CIDR netip.Prefix
}

// Prefixes returns the primary and all secondary ranges.
func (s *Subnetwork) Prefixes() []netip.Prefix {
	out := []netip.Prefix{s.CIDR}
	for _, r := range s.Secondary {
		out = append(out, r.CIDR)
	}
	return out
}

// CloudRouter is a resolved router.
type CloudRouter struct {
	Name      string
	Region    string
	ASN       uint32
	Advertise Advertisement
}

// Advertisement modes and groups, as in the compute API.
const (
	AdvertiseDefault = "DEFAULT"
	AdvertiseCustom  = "CUSTOM"
	GroupAllSubnets  = "ALL_SUBNETS"
	RoutingRegional  = "REGIONAL"
	RoutingGlobal    = "GLOBAL"
	LinkPeering      = "peering"
	LinkInterconnect = "interconnect"
	LinkVPN          = "vpn"
	RoleVM           = "vm"
	RoleNode         = "node"
	RoleControlPlane = "control-plane"
	// RoleThirdPartyClient is the VM in the third-party cloud that must reach the control
	// plane (the article's tp-vm); RoleInVPCClient is a VM in a customer GCP VPC (the
	// article's jumpbox, in another region than the cluster).
	RoleThirdPartyClient = "third-party-client"
	RoleInVPCClient      = "in-vpc-client"
	// RoleManagedService is a managed service instance (Memorystore) in a producer VPC.
	RoleManagedService = "managed-service"
	// ManagedByServiceNetworking marks a Private Service Access producer VPC, joined to the
	// consumer VPC by the peering PeeringServiceNetworking.
	ManagedByServiceNetworking = "servicenetworking"
	PeeringServiceNetworking   = "servicenetworking-googleapis-com"
	ServiceRedis               = "redis"
	// RedisTLSPort and RedisPort are where Memorystore for Redis listens with in-transit
	// encryption and without.
	RedisTLSPort      = 6378
	RedisPort         = 6379
	CloudGCP          = "gcp"
	ManagedByGKE      = "gke"
	DefaultRouterASN  = 64514
	DefaultPeerASN    = 64512
	DefaultK8sVersion = "v1.37.2"
	SolutionBGPExport = "bgp-export"
	DefaultTunnels    = 4
)

// Advertisement is what a router announces to its BGP peers.
type Advertisement struct {
	Mode   string // DEFAULT or CUSTOM
	Groups []string
	Ranges []netip.Prefix
}

// Machine is a resolved host.
type Machine struct {
	Name   string
	VPC    string
	Subnet string
	Region string
	IP     netip.Addr
	Role   string
	Tags   []string
	// Service is set on managed-service hosts.
	Service *ManagedService
}

// ManagedService is a resolved managed service instance.
type ManagedService struct {
	Kind string
	TLS  bool
	Auth bool
}

// Port is where the instance listens: 6378 with TLS, 6379 without.
func (s *ManagedService) Port() uint16 {
	if s.TLS {
		return RedisTLSPort
	}
	return RedisPort
}

// Connection is a resolved link.
type Connection struct {
	Name     string
	Type     string
	A, B     Endpoint
	Solution string // the solution that creates it; "" = always present
	Tunnels  int    // tunnels of a solution's HA VPN (default 4)
	// Impairment is the WAN emulation of the link (nil: none).
	Impairment *Impairment
}

// WANProfiles are the impairment profiles a topology may name (lab/wan defines them).
var WANProfiles = []string{"none", "same-metro", "cross-region", "intercontinental", "lossy-vpn"}

// Overrides returns the impairment's explicit settings as "key=value" strings.
func (i *Impairment) Overrides() []string {
	var out []string
	for _, kv := range [][2]string{{"delay", i.Delay}, {"jitter", i.Jitter}, {"rate", i.Rate}} {
		if kv[1] != "" {
			out = append(out, kv[0]+"="+kv[1])
		}
	}
	if i.Loss != 0 {
		out = append(out, fmt.Sprintf("loss=%g", i.Loss))
	}
	return out
}

// Side returns the endpoint of the link in vpc, and the other one.
func (l *Connection) Side(vpc string) (me, them Endpoint) {
	if l.B.VPC == vpc {
		return l.B, l.A
	}
	return l.A, l.B
}

// Endpoint is one resolved side of a link.
type Endpoint struct {
	VPC                string
	Router             string
	ExportCustomRoutes bool
	ImportCustomRoutes bool
	Gateway            string
}

// GKECluster is the resolved cluster.
type GKECluster struct {
	Name              string
	Location          string
	VPC               string
	Subnet            string
	PodRange          netip.Prefix
	ServiceRange      netip.Prefix
	MasterVPC         string
	MasterCIDR        netip.Prefix
	PrivateEndpoint   netip.Addr
	Peering           string
	KubernetesVersion string
	// PSC is true for a Private Service Connect endpoint: PrivateEndpoint is an address of
	// EndpointSubnet in VPC (region EndpointRegion), and there is no master VPC or peering.
	PSC            bool
	EndpointSubnet string
	EndpointRegion string
	// GlobalAccess opens a PSC endpoint to clients entering VPC in other regions.
	GlobalAccess bool
	// ControlPlane is the host at PrivateEndpoint; Nodes are the hosts with role node, in file order.
	ControlPlane string
	Nodes        []string
	// NodeRange is the primary range of the cluster's subnet.
	NodeRange netip.Prefix
	// Authorized is nil when master authorized networks are disabled.
	Authorized *Authorized
	// DNS is nil when the cluster has no DNS-based endpoint.
	DNS *ResolvedDNSEndpoint
}

// ResolvedDNSEndpoint is the resolved DNS-based endpoint.
type ResolvedDNSEndpoint struct {
	// Name is the endpoint's name, gke-<hash>.<region>.gke.goog, fixed for the cluster.
	Name                 string
	AllowExternalTraffic bool
}

// DNSEndpointName is the DNS-based endpoint name of a cluster: like GKE's, a hash that does
// not change for the cluster's life, under its region's gke.goog domain.
func DNSEndpointName(cluster, location string) string {
	sum := sha256.Sum256([]byte(cluster + "/" + location))
	return fmt.Sprintf("gke-%x.%s.gke.goog", sum[:16], RegionOf(location))
}

// Authorized is the resolved master authorized networks configuration.
type Authorized struct {
	CIDRBlocks                 []netip.Prefix
	PrivateEndpointEnforcement bool
}

// Active returns t as it is while only the solution links for which created returns true
// exist: a shallow copy without the other links a solution creates. created may be nil.
func (t *Topology) Active(created func(link string) bool) *Topology {
	c := *t
	c.Links = nil
	for _, l := range t.Links {
		if l.Solution == "" || (created != nil && created(l.Name)) {
			c.Links = append(c.Links, l)
		}
	}
	return &c
}

// Network returns the named VPC, or nil.
func (t *Topology) Network(name string) *Network {
	for _, n := range t.Networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Host returns the named host, or nil.
func (t *Topology) Host(name string) *Machine {
	for _, h := range t.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// HostsWithRole returns the hosts with the role, in file order.
func (t *Topology) HostsWithRole(role string) []*Machine {
	var out []*Machine
	for _, h := range t.Hosts {
		if h.Role == role {
			out = append(out, h)
		}
	}
	return out
}

// RequireRoles checks that some host has each role; the error names the first role
// missing, who needs it (by), and points at spec.hosts: "file:line: spec.hosts: no host
// has role R, which B needs (set role: R on a host …)".
func (t *Topology) RequireRoles(by string, roles ...string) error {
	for _, r := range roles {
		if len(t.HostsWithRole(r)) == 0 {
			return &Error{File: t.Source, Line: t.hostsLine, Field: "spec.hosts",
				Msg: fmt.Sprintf("no host has role %s, which %s needs (set role: %s on %s)", r, by, r, roleWhere(r))}
		}
	}
	return nil
}

// roleWhere says where a host of the role belongs, for error messages.
func roleWhere(role string) string {
	switch role {
	case RoleThirdPartyClient:
		return "a host in the third-party cloud's VPC"
	case RoleInVPCClient:
		return "a host in a customer GCP VPC"
	case RoleNode:
		return "a host in the cluster's subnet"
	case RoleControlPlane:
		return "the host at the private endpoint"
	case RoleManagedService:
		return "a host in a servicenetworking VPC, with service: {kind: redis}"
	}
	return "a host"
}

// Uplink returns the interconnect or VPN link that joins the VPC to another, preferring one
// that exists without a solution; nil if none does.
func (t *Topology) Uplink(vpc string) *Connection {
	var out *Connection
	for _, l := range t.Links {
		if (l.Type != LinkInterconnect && l.Type != LinkVPN) || (l.A.VPC != vpc && l.B.VPC != vpc) {
			continue
		}
		if l.Solution == "" {
			return l
		}
		if out == nil {
			out = l
		}
	}
	return out
}

// Link returns the named link, or nil.
func (t *Topology) Link(name string) *Connection {
	for _, l := range t.Links {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Router returns the named router of a VPC, or nil.
func (n *Network) Router(name string) *CloudRouter {
	for _, r := range n.Routers {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// NodePodCIDR is the alias range of the i-th node (file order): the i-th /24 of the pod
// range, as GKE assigns for 110 pods a node. ok is false when the range has no room.
func (c *GKECluster) NodePodCIDR(i int) (p netip.Prefix, ok bool) {
	if c.PodRange.Bits() > 24 || i < 0 || i >= 1<<(24-c.PodRange.Bits()) {
		return netip.Prefix{}, false
	}
	a := c.PodRange.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 24), true
}

// RegionOf is a location's region: zone "us-central1-c" is in "us-central1"; a region is its own.
func RegionOf(location string) string {
	if parts := strings.Split(location, "-"); len(parts) == 3 {
		return parts[0] + "-" + parts[1]
	}
	return location
}

// ResolverEnv holds, for a command run at a host whose VPC has a resolver, that resolver
// ("ip:53"): reachgate (its kubectl, its probes) resolves names there, as the VM's resolv.conf
// would say.
const ResolverEnv = "REACHGATE_RESOLVER"

// ResolverAddr is the address of the DNS resolver the lab gives a third-party VPC when the
// cluster has a DNS-based endpoint: the VPC's first range plus two, where AWS answers DNS.
// ok is false for a GCP VPC, a VPC without subnets, or a cluster without a DNS endpoint.
func (t *Topology) ResolverAddr(vpc string) (a netip.Addr, ok bool) {
	if t.Cluster == nil || t.Cluster.DNS == nil {
		return a, false
	}
	n := t.Network(vpc)
	if n == nil || n.GCP() || len(n.Subnets) == 0 {
		return a, false
	}
	return n.Subnets[0].CIDR.Masked().Addr().Next().Next(), true
}

// ThirdPartySide is the topology without its GCP side: the third-party cloud's VPCs, their
// hosts and the links between them, no cluster (a bare lab: the project starts empty and the
// gcp provider builds it through the lab's API). t is not modified.
func (t *Topology) ThirdPartySide() *Topology {
	c := *t
	c.Networks, c.Hosts, c.Links, c.Cluster = nil, nil, nil, nil
	keep := map[string]bool{}
	for _, n := range t.Networks {
		if !n.GCP() {
			c.Networks = append(c.Networks, n)
			keep[n.Name] = true
		}
	}
	for _, h := range t.Hosts {
		if keep[h.VPC] {
			c.Hosts = append(c.Hosts, h)
		}
	}
	for _, l := range t.Links {
		if keep[l.A.VPC] && keep[l.B.VPC] {
			c.Links = append(c.Links, l)
		}
	}
	return &c
}
