package provider

import (
	"context"
	"net"
	"net/netip"

	"google.golang.org/api/option"
	"k8s.io/client-go/rest"

	"reachgate/framework/cloud"
)

// VPNCloud is the HA VPN, Cloud Router, peering and authorized-networks side of the cloud
// that bgp-export drives; method names follow the compute and container APIs.
type VPNCloud interface {
	InsertVpnGateway(ctx context.Context, g cloud.VpnGateway) error
	DeleteVpnGateway(ctx context.Context, name string) error
	InsertExternalVpnGateway(ctx context.Context, g cloud.ExternalVpnGateway) error
	DeleteExternalVpnGateway(ctx context.Context, name string) error
	InsertVpnTunnel(ctx context.Context, t cloud.VpnTunnel) error
	DeleteVpnTunnel(ctx context.Context, name string) error
	GetRouter(ctx context.Context, network, router string) (cloud.Router, error)
	PatchRouter(ctx context.Context, p cloud.RouterPatch) error
	GetPeering(ctx context.Context, network, name string) (cloud.NetworkPeering, error)
	UpdatePeering(ctx context.Context, p cloud.NetworkPeering) error
	GetAuthorizedNetworks(ctx context.Context) (cloud.AuthorizedNetworks, error)
	SetAuthorizedNetworks(ctx context.Context, a cloud.AuthorizedNetworks) error
	GetRouterStatus(ctx context.Context, network, router string) (cloud.RouterStatus, error)
	ListPeeringRoutes(ctx context.Context, network, peering, direction string) ([]cloud.PeeringRoute, error)
	GetVpnGatewayStatus(ctx context.Context, name string) (cloud.VpnGatewayStatus, error)
}

// EndpointCloud is the control plane endpoint side of the cloud that psc-endpoint drives:
// who may reach the cluster's internal endpoint, by source range and by region.
type EndpointCloud interface {
	GetAuthorizedNetworks(ctx context.Context) (cloud.AuthorizedNetworks, error)
	SetAuthorizedNetworks(ctx context.Context, a cloud.AuthorizedNetworks) error
	SetMasterGlobalAccess(ctx context.Context, enabled bool) error
	GetRouter(ctx context.Context, network, router string) (cloud.Router, error)
	PatchRouter(ctx context.Context, p cloud.RouterPatch) error
}

// DNSEndpointCloud is what dns-endpoint drives: the cluster's DNS-based endpoint (container
// API), who may call it (IAM's container.clusters.connect, by Kubernetes username) and the
// private zones of the third-party VPC's resolver (that cloud's DNS), besides the router
// advertisements of EndpointCloud.
type DNSEndpointCloud interface {
	EndpointCloud
	SetDNSEndpointExternalTraffic(ctx context.Context, allow bool) error
	ClusterConnectPrincipals(ctx context.Context) ([]string, error)
	GrantClusterConnect(ctx context.Context, principal string) error
	RevokeClusterConnect(ctx context.Context, principal string) error
	PrivateZone(ctx context.Context, vpc, zone string) (cloud.PrivateZone, bool, error)
	SetPrivateZone(ctx context.Context, vpc string, z cloud.PrivateZone) error
	DeletePrivateZone(ctx context.Context, vpc, zone string) error
	// FrontEndCA is the root the third-party VM trusts for Google's front end; nil means the
	// system's roots (real Google), so a kubeconfig carries no certificate authority.
	FrontEndCA(ctx context.Context) ([]byte, error)
}

// WANEmulator is the ability to emulate a WAN profile on a link between the clouds
// ("none" removes it); overrides are "key=value" (delay, jitter, loss, rate, rtt).
type WANEmulator interface {
	SetImpairment(ctx context.Context, link, profile string, overrides ...string) error
}

// TunnelFaults is the ability to cut and restore a VPN tunnel's underlay (the path between
// the clouds), for failover checks.
type TunnelFaults interface {
	SetTunnelUnderlay(ctx context.Context, tunnel string, up bool) error
	// TunnelsCarrying names the tunnels that carry host's traffic to dst and the replies.
	TunnelsCarrying(ctx context.Context, host string, dst netip.Addr) ([]string, error)
}

// Cloud is the cloud side that solutions drive: the same calls on the
// lab and on real GCP.
type Cloud interface {
	Cluster(ctx context.Context) (cloud.ClusterDescription, error)
	ReserveInternalAddress(ctx context.Context, spec cloud.AddressSpec) (netip.Addr, error)
	ReleaseAddress(ctx context.Context, region, name string) error
}

// CloudAccess is the ability of an environment to hand out its Cloud.
type CloudAccess interface {
	Cloud() Cloud
}

// KubeAdmin is the ability to reach the cluster's API server as an administrator from the
// operator's own position (a GKE node in the lab; the operator's workstation on GCP).
type KubeAdmin interface {
	AdminConfig() (*rest.Config, error)
}

// GCPAPI is the ability to reach the environment's project through the compute v1 and
// container v1 APIs with Google's official clients: the lab's own API, or Google's. The gate
// and gcp import read a project this way on every provider.
type GCPAPI interface {
	GCPAPI(ctx context.Context) (APIAccess, error)
}

// AgentSource is the ability to hand a VM reachgate's agent: the URL its startup script
// fetches the binary from and the binary's SHA-256 (a Cloud Storage object on GCP; a file of
// the lab's shared filesystem in the lab). With GCPAPI, gcp.Cloud.InstallAgent makes any VM
// of the project a host the harness reaches through its metadata.
type AgentSource interface {
	AgentSource(ctx context.Context) (url, sha256 string, err error)
}

// PartnerInterconnect is the ability to play the partner of a Partner Interconnect for the
// environment's third-party cloud: connect a VLAN attachment, by the pairing key GCP gave it,
// to one of that cloud's VPCs (what a partner's portal does with the key). The lab has it for
// its third-party side; the gcp provider uses it to join a bare lab's project to that side.
type PartnerInterconnect interface {
	ConnectPartner(ctx context.Context, pairingKey, vpc string) error
}

// ThirdPartyVPN is the ability to configure the third-party cloud's end of an HA VPN to one of
// the project's gateways: in AWS, customer gateways for the HA VPN gateway's two addresses,
// VPN connections and BGP on its router. bgp-export connects it once the HA VPN gateway
// exists and before the external gateway and the tunnels, as an operator does; an environment
// whose topology file declares both ends (the lab) has nothing to do.
type ThirdPartyVPN interface {
	ConnectThirdPartyVPN(ctx context.Context, v cloud.ThirdPartyVPN) error
	// DisconnectThirdPartyVPN removes the end of link, after its tunnels are deleted.
	DisconnectThirdPartyVPN(ctx context.Context, link string) error
}

// ProjectThirdParty is the ability to say whether the third-party cloud's VPCs are VPCs of the
// environment's project (the gcp provider's stand-in on Google): reading the project then
// reads them too, and nothing of the topology lies outside it.
type ProjectThirdParty interface {
	ThirdPartyInProject() bool
}

// ProjectNames is the ability to name a topology's VPC, router, gateway or VM as the
// environment's project names it: the gcp provider prefixes its runs' resources
// (rg-<run>-<name>). An environment without it uses the topology's names in its project.
type ProjectNames interface {
	ProjectName(name string) string
}

// ProjectName is name in env's project (ProjectNames, or name itself).
func ProjectName(env Environment, name string) string {
	if pn, ok := env.(ProjectNames); ok {
		return pn.ProjectName(name)
	}
	return name
}

// APIAccess is how to reach a project's APIs: Endpoint empty means Google's; Options carry
// the credentials or the HTTP client.
type APIAccess struct {
	Project  string
	Endpoint string
	Options  []option.ClientOption
}

// Operator is the ability to stand where a platform engineer stands: a host whose Run has the
// cloud's own CLI (gcloud) configured for the environment's project — the lab's GCP API in the
// lab; the operator's workstation on GCP.
type Operator interface {
	Operator() (Host, error)
}

// ManagedServices is the ability to describe the environment's managed service instances
// (Memorystore for Redis, reached over Private Service Access) as the service's API does: one
// per host with role managed-service, with the CA to verify it and its AUTH string.
type ManagedServices interface {
	ManagedService(ctx context.Context, host string) (cloud.ManagedService, error)
}

// FilePlacer is the ability to put a file on a host (a kubeconfig for the third-party VM).
type FilePlacer interface {
	PlaceFile(ctx context.Context, name string, data []byte) (path string, err error)
}

// PodKiller is the ability to kill a pod's containers abruptly (the process dies, the
// object stays), for failover checks.
type PodKiller interface {
	KillPod(ctx context.Context, namespace, name string) error
}

// PodNetwork is the ability to act inside a pod's own network, for checks that stand in for
// what the pod connects to (an impostor upstream): listen at the pod's address, and redirect
// the pod's own TCP connections for dst to another address until undo is called.
type PodNetwork interface {
	ListenInPod(namespace, pod, addr string) (net.Listener, error)
	RedirectInPod(ctx context.Context, namespace, pod string, dst, to netip.AddrPort) (undo func(context.Context) error, err error)
}

// Inventory is the ability to list what the environment itself runs (namespaces,
// processes), so a test can check that removing a solution leaves it as it was.
type Inventory interface {
	Inventory() ([]string, error)
}
