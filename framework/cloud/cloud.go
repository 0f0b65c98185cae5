// Package cloud is reachgate's neutral cloud vocabulary: the resources solutions create and
// read, shaped and named after the compute v1 and container v1 resources (JSON tags in their
// camelCase), so a provider for real GCP maps them field by field and the lab records them as
// they are. It imports nothing of reachgate but the topology schema.
package cloud

import (
	"net/netip"
	"time"

	"reachgate/framework/topology"
)

// ClusterDescription is what clusters.get tells about a private cluster, plus what the
// environment measured of it (the server version, the node names).
type ClusterDescription struct {
	Name       string `json:"name"`
	Location   string `json:"location"`
	Region     string `json:"region"`
	Network    string `json:"network"` // the nodes' VPC
	Subnetwork string `json:"subnetwork"`
	// PrivateEndpoint is privateClusterConfig.privateEndpoint.
	PrivateEndpoint netip.Addr `json:"privateEndpoint"`
	// MasterCIDR is privateClusterConfig.masterIpv4CidrBlock.
	MasterCIDR netip.Prefix `json:"masterIpv4CidrBlock"`
	// PeeringName is privateClusterConfig.peeringName: the peering to the Google-managed VPC.
	PeeringName string `json:"peeringName"`
	// PrivateEndpointSubnetwork is privateClusterConfig.privateEndpointSubnetwork: set for a
	// Private Service Connect cluster (no MasterCIDR, no PeeringName), whose endpoint is an
	// address of this subnet of Network.
	PrivateEndpointSubnetwork string `json:"privateEndpointSubnetwork,omitempty"`
	// MasterGlobalAccess is privateClusterConfig.masterGlobalAccessConfig.enabled.
	MasterGlobalAccess bool `json:"masterGlobalAccess,omitempty"`
	// DNSEndpoint is controlPlaneEndpointsConfig.dnsEndpointConfig.endpoint ("" without one),
	// DNSAllowExternalTraffic its allowExternalTraffic.
	DNSEndpoint             string `json:"dnsEndpoint,omitempty"`
	DNSAllowExternalTraffic bool   `json:"dnsAllowExternalTraffic,omitempty"`
	// CAPEM is masterAuth.clusterCaCertificate, decoded.
	CAPEM []byte `json:"clusterCaCertificate"`
	// CurrentMasterVersion is the version the API server reports.
	CurrentMasterVersion string `json:"currentMasterVersion,omitempty"`
	// Nodes are the names of the cluster's nodes.
	Nodes []string `json:"nodes,omitempty"`
}

// AddressSpec is an internal static address to reserve (addresses.insert, addressType INTERNAL).
type AddressSpec struct {
	Name       string     `json:"name"`
	Region     string     `json:"region"`
	Subnetwork string     `json:"subnetwork"`
	Address    netip.Addr `json:"address"` // the requested address
	Purpose    string     `json:"purpose,omitempty"`
	// Labels are the resource's labels (key: value), where the resource has them.
	Labels map[string]string `json:"labels,omitempty"`
}

// Address is a reserved address (addresses.get).
type Address struct {
	AddressSpec
	Status string `json:"status"` // RESERVED or IN_USE
}

// VpnGateway is an HA VPN gateway (vpnGateways.insert): two interfaces in a region.
type VpnGateway struct {
	Name        string            `json:"name"`
	Network     string            `json:"network"`
	Region      string            `json:"region"`
	Labels      map[string]string `json:"labels,omitempty"`
	Description string            `json:"description,omitempty"`
}

// ExternalVpnGateway is the peer cloud's gateway (externalVpnGateways.insert).
type ExternalVpnGateway struct {
	Name string `json:"name"`
	// RedundancyType is FOUR_IPS_REDUNDANCY, TWO_IPS_REDUNDANCY or SINGLE_IP_INTERNALLY_REDUNDANT.
	RedundancyType string            `json:"redundancyType"`
	Labels         map[string]string `json:"labels,omitempty"`
}

// VpnTunnel is one HA VPN tunnel (vpnTunnels.insert).
type VpnTunnel struct {
	Name                         string            `json:"name"`
	Region                       string            `json:"region"`
	VpnGateway                   string            `json:"vpnGateway"`
	VpnGatewayInterface          int               `json:"vpnGatewayInterface"` // 0 or 1
	PeerExternalGateway          string            `json:"peerExternalGateway"`
	PeerExternalGatewayInterface int               `json:"peerExternalGatewayInterface"` // 0-3 for FOUR_IPS_REDUNDANCY
	Router                       string            `json:"router"`
	Labels                       map[string]string `json:"labels,omitempty"`
	// PeerGcpGateway is the HA VPN gateway at the other end instead of an external one (two
	// VPCs joined by an HA VPN pair; the tunnel of interface k meets the peer's interface k),
	// in PeerRegion.
	PeerGcpGateway string `json:"peerGcpGateway,omitempty"`
	Description    string `json:"description,omitempty"`
	PeerRegion     string `json:"peerRegion,omitempty"`
	// SharedSecret is the IKE secret, the same on both tunnels of a pair ("" makes a random
	// one). A secret: never written out.
	SharedSecret string `json:"-"`
}

// ThirdPartyVPN is the third-party cloud's end of an HA VPN to a GCP gateway: what an operator
// configures on that side (in AWS: customer gateways for the HA VPN gateway's two addresses,
// VPN connections, BGP on its router) before GCP gets the external gateway and the tunnels.
type ThirdPartyVPN struct {
	Link    string `json:"link"`    // names the VPN between the two; the tunnels belong to it
	Gateway string `json:"gateway"` // the HA VPN gateway
	Region  string `json:"region"`
	Network string `json:"network"` // the gateway's VPC
	Router  string `json:"router"`  // the Cloud Router of the tunnels' BGP sessions
	// PeerGateway is the external VPN gateway that will stand for this end in the project;
	// PeerVPC and PeerRouter are this end in the third-party cloud.
	PeerGateway string `json:"peerGateway"`
	PeerVPC     string `json:"peerVpc"`
	PeerRouter  string `json:"peerRouter"`
	Tunnels     int    `json:"tunnels"`
}

// RouterBgpPeer is one of a Cloud Router's bgpPeers, on a tunnel's router interface.
type RouterBgpPeer struct {
	Name          string     `json:"name"`
	Tunnel        string     `json:"tunnel"`                  // the router interface's linkedVpnTunnel
	Interface     string     `json:"interfaceName,omitempty"` // the router interface it runs on (default "if-" + Name)
	IPAddress     netip.Addr `json:"ipAddress"`               // the Cloud Router's side, e.g. 169.254.0.1
	PeerIPAddress netip.Addr `json:"peerIpAddress"`           // the peer's side, e.g. 169.254.0.2
	PeerAsn       uint32     `json:"peerAsn"`
	// AdvertisedRoutePriority is sent as MED (default 100).
	AdvertisedRoutePriority uint32 `json:"advertisedRoutePriority,omitempty"`
}

// Router is a Cloud Router as routers.get returns it.
type Router struct {
	Name      string                 `json:"name"`
	Network   string                 `json:"network"`
	Region    string                 `json:"region"`
	ASN       uint32                 `json:"asn"`
	Advertise topology.Advertisement `json:"advertise"`
	BgpPeers  []RouterBgpPeer        `json:"bgpPeers"`
	// Interfaces are the ones set explicitly (routers add-interface); a peer without one of
	// them runs on an interface named after it.
	Interfaces []RouterInterface `json:"interfaces,omitempty"`
}

// RouterInterface is a Cloud Router interface on an HA VPN tunnel: the router's link-local
// address range for its BGP session (a /30 of 169.254.0.0/16).
type RouterInterface struct {
	Name            string       `json:"name"`
	IPRange         netip.Prefix `json:"ipRange"`
	LinkedVpnTunnel string       `json:"linkedVpnTunnel"`
}

// RouterPatch changes a Cloud Router (routers.patch): nil fields stay as they are.
type RouterPatch struct {
	Network, Router string
	Advertise       *topology.Advertisement
	BgpPeers        *[]RouterBgpPeer
	Interfaces      *[]RouterInterface
}

// NetworkPeering is one side of a VPC peering (networks.updatePeering).
type NetworkPeering struct {
	Network            string `json:"network"`
	Name               string `json:"name"`
	ExportCustomRoutes bool   `json:"exportCustomRoutes"`
	ImportCustomRoutes bool   `json:"importCustomRoutes"`
}

// AuthorizedNetworks is the cluster's masterAuthorizedNetworksConfig.
type AuthorizedNetworks struct {
	Enabled    bool           `json:"enabled"`
	CIDRBlocks []netip.Prefix `json:"cidrBlocks"`
	// PrivateEndpointEnforcement makes the list apply to the private endpoint too.
	PrivateEndpointEnforcement bool `json:"privateEndpointEnforcement"`
}

// PeeringRoute is one entry of networks.listPeeringRoutes.
type PeeringRoute struct {
	DestRange     string `json:"destRange"`
	Type          string `json:"type"` // SUBNET_PEERING_ROUTE, STATIC_PEERING_ROUTE, DYNAMIC_PEERING_ROUTE
	Imported      bool   `json:"imported"`
	NextHopRegion string `json:"nextHopRegion,omitempty"`
	Priority      int    `json:"priority"`
}

// Directions of ListPeeringRoutes.
const (
	Incoming = "INCOMING"
	Outgoing = "OUTGOING"
)

// ManagedService is a managed service instance reached over Private Service Access, named
// after Memorystore for Redis's instance (redis v1 projects.locations.instances): host and
// port, serverCaCerts, transitEncryptionMode and authEnabled with the string
// instances.getAuthString returns.
type ManagedService struct {
	// Name is the instance's name; Kind its service ("redis").
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Host and Port are the instance's address: 6378 with in-transit encryption, else 6379.
	Host netip.Addr `json:"host"`
	Port int        `json:"port"`
	// TLS is transitEncryptionMode SERVER_AUTHENTICATION (false: DISABLED): clients verify the
	// server against CAPEM and present no certificate.
	TLS bool `json:"tls"`
	// CAPEM is serverCaCerts[].cert, the instance's CA (empty without TLS).
	CAPEM []byte `json:"serverCaCerts,omitempty"`
	// Auth is the AUTH string (empty when authEnabled is false). It is a secret: never
	// marshalled, printed or logged.
	Auth string `json:"-"`
}

// VpnGatewayStatus is vpnGateways.getStatus plus the tunnels' states.
type VpnGatewayStatus struct {
	Name       string         `json:"name"`
	Redundancy string         `json:"redundancy"` // CONNECTION_REDUNDANCY_MET or CONNECTION_REDUNDANCY_NOT_MET
	Tunnels    []TunnelStatus `json:"tunnels"`
}

// TunnelStatus is one tunnel's status (vpnTunnels.get status).
type TunnelStatus struct {
	Name                string `json:"name"`
	VpnGatewayInterface int    `json:"vpnGatewayInterface"`
	PeerInterface       int    `json:"peerExternalGatewayInterface"`
	Status              string `json:"status"` // ESTABLISHED, FIRST_HANDSHAKE, NO_INCOMING_PACKETS, …
}

// Redundancy states.
const (
	RedundancyMet    = "CONNECTION_REDUNDANCY_MET"
	RedundancyNotMet = "CONNECTION_REDUNDANCY_NOT_MET"
)

// RouterStatus is routers.getRouterStatus: the router's BGP sessions and best routes.
type RouterStatus struct {
	Name          string       `json:"name"`
	ASN           uint32       `json:"asn"`
	RouterID      string       `json:"routerId"`
	BGPPeerStatus []PeerStatus `json:"bgpPeerStatus"`
	BestRoutes    []BestRoute  `json:"bestRoutes"`
	// Updated is when the status was read; a provider that reads it live sets now.
	Updated time.Time `json:"updated"`
}

// PeerStatus is one BGP session (bgpPeerStatus[]).
type PeerStatus struct {
	Name             string            `json:"name"`
	IPAddress        string            `json:"ipAddress"`     // this side's address
	PeerIPAddress    string            `json:"peerIpAddress"` // the neighbor's
	Status           string            `json:"status"`        // UP or DOWN
	State            string            `json:"state"`         // "Established", "Active", "Idle", …
	NumLearnedRoutes int               `json:"numLearnedRoutes"`
	AdvertisedRoutes []AdvertisedRoute `json:"advertisedRoutes"`
	Uptime           string            `json:"uptime"` // e.g. "3 minutes, 2 seconds"
	UptimeSeconds    string            `json:"uptimeSeconds"`
}

// AdvertisedRoute is a route sent to a peer, as the peer receives it.
type AdvertisedRoute struct {
	DestRange string `json:"destRange"`
	NextHopIP string `json:"nextHopIp"`
	Priority  uint32 `json:"priority"` // MED
}

// BestRoute is a router's best route for a range, with all its equal-cost next hops.
type BestRoute struct {
	DestRange string   `json:"destRange"`
	NextHops  []string `json:"nextHops"`
	Priority  uint32   `json:"priority"` // the MED of the best paths
	ASPath    []uint32 `json:"asPath"`
}

// Peer statuses.
const (
	PeerUp   = "UP"
	PeerDown = "DOWN"
)

// Peer returns the named session's status.
func (s RouterStatus) Peer(name string) (PeerStatus, bool) {
	for _, p := range s.BGPPeerStatus {
		if p.Name == name {
			return p, true
		}
	}
	return PeerStatus{}, false
}

// Up counts the sessions that are UP.
func (s RouterStatus) Up() int {
	n := 0
	for _, p := range s.BGPPeerStatus {
		if p.Status == PeerUp {
			n++
		}
	}
	return n
}

// Route returns the best route for a destination range.
func (s RouterStatus) Route(dest string) (BestRoute, bool) {
	for _, r := range s.BestRoutes {
		if r.DestRange == dest {
			return r, true
		}
	}
	return BestRoute{}, false
}

// PrivateZone is a DNS zone a VPC's resolver answers from (a Route 53 private hosted zone, a
// Cloud DNS private zone).
type PrivateZone struct {
	Name    string      `json:"name"` // like "gke.goog."
	Records []DNSRecord `json:"records"`
}

// DNSRecord is an A record set; Name may be a wildcard, like "*.gke.goog.".
type DNSRecord struct {
	Name string       `json:"name"`
	A    []netip.Addr `json:"a"`
}
