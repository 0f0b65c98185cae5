// Package topology reads and validates reachgate topology files
// (apiVersion reachgate.dev/v1alpha1, kind Topology).
//
// The file types below (File, VPC, …) mirror the YAML exactly and hold strings;
// Parse resolves them into the runtime Topology, whose addresses are netip values
// and whose references are checked.
package topology

// APIVersion and Kind are the only values a topology file may declare.
const (
	APIVersion = "reachgate.dev/v1alpha1"
	Kind       = "Topology"
)

// File is a topology file as written.
type File struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata" json:"metadata"`
	Spec       Spec     `yaml:"spec" json:"spec"`
}

// Metadata names the topology.
type Metadata struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// Spec is the body of a topology.
type Spec struct {
	VPCs    []VPC    `yaml:"vpcs" json:"vpcs"`
	Hosts   []Host   `yaml:"hosts" json:"hosts"`
	Links   []Link   `yaml:"links" json:"links"`
	Cluster *Cluster `yaml:"cluster,omitempty" json:"cluster,omitempty"`
}

// VPC is one network: a GCP VPC, the Google-owned master VPC, or a third-party cloud's VPC.
type VPC struct {
	Name string `yaml:"name" json:"name"`
	// Cloud is "gcp" (default) or the third-party cloud ("aws", "azure", "other").
	Cloud string `yaml:"cloud,omitempty" json:"cloud,omitempty"`
	// ManagedBy "gke" marks the Google-owned master VPC; "servicenetworking" a Google-owned
	// producer VPC of Private Service Access (Memorystore, Cloud SQL). Their side of the peering
	// cannot be edited.
	ManagedBy string `yaml:"managedBy,omitempty" json:"managedBy,omitempty"`
	// RoutingMode is REGIONAL (GCP default) or GLOBAL; gcp VPCs only.
	RoutingMode string   `yaml:"routingMode,omitempty" json:"routingMode,omitempty"`
	Subnets     []Subnet `yaml:"subnets" json:"subnets"`
	Routers     []Router `yaml:"routers,omitempty" json:"routers,omitempty"`
	// AllocatedRanges are the VPC's Private Service Access ranges (global internal addresses
	// with purpose VPC_PEERING): producer VPCs of managed services take their subnets from them.
	// Customer gcp VPCs only.
	AllocatedRanges []AllocatedRange `yaml:"allocatedRanges,omitempty" json:"allocatedRanges,omitempty"`
	// Firewall holds the VPC's ingress firewall rules (customer gcp VPCs only). As in GCP, the
	// implied rules always apply below them: deny all ingress, allow all egress.
	Firewall []FirewallRule `yaml:"firewall,omitempty" json:"firewall,omitempty"`
}

// AllocatedRange is a range reserved for Private Service Access (e.g.
// google-managed-services-<vpc>, a /16 or /20; GCP needs at least a /24).
type AllocatedRange struct {
	Name string `yaml:"name" json:"name"`
	CIDR string `yaml:"cidr" json:"cidr"`
}

// FirewallRule is a VPC ingress firewall rule.
type FirewallRule struct {
	Name string `yaml:"name" json:"name"`
	// Action is "allow" (default) or "deny".
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// Priority is 0 (highest) to 65535; left out, it is 1000. At equal priority deny wins.
	Priority *int `yaml:"priority,omitempty" json:"priority,omitempty"`
	// SourceRanges are the sources the rule matches.
	SourceRanges []string `yaml:"sourceRanges" json:"sourceRanges"`
	// Ports are "all" (default), "tcp", "udp", "icmp", "tcp:443" or "tcp:30000-32767".
	Ports []string `yaml:"ports,omitempty" json:"ports,omitempty"`
	// TargetTags limits the rule to hosts with one of these tags; left out, it applies to all.
	TargetTags []string `yaml:"targetTags,omitempty" json:"targetTags,omitempty"`
}

// Subnet is a regional address range of a VPC.
type Subnet struct {
	Name            string           `yaml:"name" json:"name"`
	Region          string           `yaml:"region" json:"region"`
	CIDR            string           `yaml:"cidr" json:"cidr"`
	SecondaryRanges []SecondaryRange `yaml:"secondaryRanges,omitempty" json:"secondaryRanges,omitempty"`
}

// SecondaryRange is an alias IP range of a subnet (GKE pods and services).
type SecondaryRange struct {
	Name string `yaml:"name" json:"name"`
	CIDR string `yaml:"cidr" json:"cidr"`
}

// Router is a Cloud Router (gcp VPC) or the third-party cloud's BGP router.
type Router struct {
	Name   string `yaml:"name" json:"name"`
	Region string `yaml:"region" json:"region"`
	// ASN is a private ASN; left out, it is 64514 in a gcp VPC and 64512 elsewhere.
	ASN       uint32       `yaml:"asn" json:"asn"`
	Advertise *Advertising `yaml:"advertise,omitempty" json:"advertise,omitempty"`
}

// Advertising is a Cloud Router's advertisement: DEFAULT (own subnets) or CUSTOM.
type Advertising struct {
	// Mode is DEFAULT when left out; Groups and Ranges need CUSTOM.
	Mode   string   `yaml:"mode" json:"mode"`
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	Ranges []string `yaml:"ranges,omitempty" json:"ranges,omitempty"`
}

// Host is a VM, a GKE node or the control plane, placed in a subnet.
type Host struct {
	Name   string `yaml:"name" json:"name"`
	VPC    string `yaml:"vpc" json:"vpc"`
	Subnet string `yaml:"subnet" json:"subnet"`
	// IP is in the subnet's primary range, and is not its network, gateway (first) or broadcast address.
	IP string `yaml:"ip" json:"ip"`
	// Role is "vm" (default), "third-party-client" (a VM of the third-party cloud that must reach
	// the control plane), "in-vpc-client" (a VM in a customer GCP VPC), "node" (a GKE node of the
	// cluster), "control-plane" or "managed-service" (a managed service instance in a
	// servicenetworking producer VPC). Suites find their actors by role.
	Role string `yaml:"role,omitempty" json:"role,omitempty"`
	// Tags are network tags that firewall rules can target.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Service is what a managed-service host serves (role managed-service only).
	Service *Service `yaml:"service,omitempty" json:"service,omitempty"`
}

// Service is a Google-managed service instance reached over Private Service Access.
type Service struct {
	// Kind is "redis" (Memorystore for Redis).
	Kind string `yaml:"kind" json:"kind"`
	// TLS is in-transit encryption (SERVER_AUTHENTICATION: TLS on 6378 with the instance's CA);
	// off, the instance listens in plain text on 6379. Default true.
	TLS *bool `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Auth requires the instance's AUTH string. Default true.
	Auth *bool `yaml:"auth,omitempty" json:"auth,omitempty"`
}

// Link joins two VPCs: a VPC peering, an interconnect (VLAN attachment) or a VPN.
type Link struct {
	Name string `yaml:"name" json:"name"`
	// Type is "peering", "interconnect" or "vpn".
	Type string  `yaml:"type" json:"type"`
	A    LinkEnd `yaml:"a" json:"a"`
	B    LinkEnd `yaml:"b" json:"b"`
	// Solution names the solution that creates the link ("bgp-export"); until it is applied
	// the link does not exist. vpn links only: the lab realizes them with real tunnels and BGP.
	Solution string `yaml:"solution,omitempty" json:"solution,omitempty"`
	// Tunnels is the number of tunnels of a solution's HA VPN, 1-4; left out, 4 (the HA VPN
	// gateway's two interfaces to four peer interfaces, GCP's 99.99 % topology).
	Tunnels int `yaml:"tunnels,omitempty" json:"tunnels,omitempty"`
	// Impairment emulates the WAN between the clouds on an interconnect or vpn link.
	Impairment *Impairment `yaml:"impairment,omitempty" json:"impairment,omitempty"`
}

// Impairment is a named WAN profile with optional overrides, applied in both directions.
type Impairment struct {
	// Profile is none, same-metro (~2 ms RTT), cross-region (~30 ms), intercontinental
	// (~150 ms) or lossy-vpn (~30 ms, 1 % loss); default none.
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
	// Delay and Jitter are one-way, like "75ms"; Loss is a percentage per direction; Rate
	// limits each direction, like "20mbit".
	Delay  string  `yaml:"delay,omitempty" json:"delay,omitempty"`
	Jitter string  `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	Loss   float64 `yaml:"loss,omitempty" json:"loss,omitempty"`
	Rate   string  `yaml:"rate,omitempty" json:"rate,omitempty"`
}

// LinkEnd is one side of a link.
type LinkEnd struct {
	VPC string `yaml:"vpc" json:"vpc"`
	// Router names the Cloud Router terminating an interconnect or VPN on this side.
	Router string `yaml:"router,omitempty" json:"router,omitempty"`
	// ExportCustomRoutes and ImportCustomRoutes are the peering flags of this side.
	ExportCustomRoutes bool `yaml:"exportCustomRoutes,omitempty" json:"exportCustomRoutes,omitempty"`
	ImportCustomRoutes bool `yaml:"importCustomRoutes,omitempty" json:"importCustomRoutes,omitempty"`
	// Gateway names the VPN gateway of this side of a solution's vpn link: an HA VPN gateway
	// (2 interfaces) on the GCP side, an external peer gateway (4 interfaces) elsewhere.
	Gateway string `yaml:"gateway,omitempty" json:"gateway,omitempty"`
}

// Cluster is the GKE private cluster: its node VPC and its control plane.
type Cluster struct {
	Name     string `yaml:"name" json:"name"`
	Location string `yaml:"location" json:"location"`
	// VPC and Subnet hold the nodes; PodRange and ServiceRange name the subnet's secondary ranges.
	VPC          string `yaml:"vpc" json:"vpc"`
	Subnet       string `yaml:"subnet" json:"subnet"`
	PodRange     string `yaml:"podRange" json:"podRange"`
	ServiceRange string `yaml:"serviceRange" json:"serviceRange"`
	// Endpoint says how the control plane's internal endpoint is reached; left out, mode peering.
	Endpoint *ClusterEndpoint `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	// MasterVPC is the Google-owned VPC of the control plane, joined to VPC by Peering
	// (mode peering only, as MasterCIDR and Peering).
	MasterVPC       string `yaml:"masterVPC,omitempty" json:"masterVPC,omitempty"`
	MasterCIDR      string `yaml:"masterCIDR,omitempty" json:"masterCIDR,omitempty"`
	PrivateEndpoint string `yaml:"privateEndpoint" json:"privateEndpoint"`
	Peering         string `yaml:"peering,omitempty" json:"peering,omitempty"`
	// KubernetesVersion is what the lab's kubelets report (the apiserver reports its own build).
	KubernetesVersion string `yaml:"kubernetesVersion,omitempty" json:"kubernetesVersion,omitempty"`
	// AuthorizedNetworks is the master authorized networks configuration; left out, disabled.
	AuthorizedNetworks *AuthorizedNetworks `yaml:"authorizedNetworks,omitempty" json:"authorizedNetworks,omitempty"`
	// DNSEndpoint is the control plane's DNS-based endpoint; left out, the cluster has none.
	DNSEndpoint *DNSEndpoint `yaml:"dnsEndpoint,omitempty" json:"dnsEndpoint,omitempty"`
}

// DNSEndpoint is controlPlaneEndpointsConfig.dnsEndpointConfig: a gke-<hash>.<region>.gke.goog
// name served by Google's API front end, which authorizes the caller's token (IAM), not its
// source address. From another cloud it is reached over Private Google Access for on-premises
// hosts: the private.googleapis.com range advertised to that cloud, and DNS that maps the name
// there. The lab stands up the front end and the third-party VPC's resolver when it is enabled.
type DNSEndpoint struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// AllowExternalTraffic lets user traffic through the endpoint; default false, as GKE's.
	AllowExternalTraffic bool `yaml:"allowExternalTraffic,omitempty" json:"allowExternalTraffic,omitempty"`
}

// ClusterEndpoint is the control plane's internal endpoint. Mode peering (GKE's clusters
// before 1.29): the endpoint is in masterCIDR, in a Google-owned VPC joined by the GKE peering.
// Mode psc (Private Service Connect, GKE's clusters since 1.29): the endpoint is an address of
// a subnet of the cluster's own VPC, a regional forwarding rule that global access opens to
// clients entering the VPC in other regions.
type ClusterEndpoint struct {
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// Subnet is the subnet of the cluster's VPC the psc endpoint's address is from
	// (privateEndpointSubnetwork); default the cluster's node subnet.
	Subnet string `yaml:"subnet,omitempty" json:"subnet,omitempty"`
	// GlobalAccess is privateClusterConfig.masterGlobalAccessConfig.enabled (psc only here).
	GlobalAccess bool `yaml:"globalAccess,omitempty" json:"globalAccess,omitempty"`
}

// Endpoint modes.
const (
	EndpointPeering = "peering"
	EndpointPSC     = "psc"
)

// AuthorizedNetworks limits who may reach the control plane.
type AuthorizedNetworks struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// CIDRBlocks are the allowed source ranges (at most 50).
	CIDRBlocks []string `yaml:"cidrBlocks,omitempty" json:"cidrBlocks,omitempty"`
	// PrivateEndpointEnforcement makes the list apply to the private endpoint too. The
	// cluster's node range and pod range may always connect.
	PrivateEndpointEnforcement bool `yaml:"privateEndpointEnforcement,omitempty" json:"privateEndpointEnforcement,omitempty"`
}
