package provider

import (
	"context"
	"net/netip"

	"k8s.io/client-go/rest"

	"reachgate/lab/cloud"
)

// Cloud types are the compute/container API shapes the lab also implements.
type (
	ClusterDescription = cloud.ClusterInfo
	AddressSpec        = cloud.AddressSpec
)

// Cloud is the cloud side that solutions drive (see ARCHITECTURE.md): the same calls on the
// lab and on real GCP.
type Cloud interface {
	Cluster(ctx context.Context) (ClusterDescription, error)
	ReserveInternalAddress(ctx context.Context, spec AddressSpec) (netip.Addr, error)
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

// FilePlacer is the ability to put a file on a host (a kubeconfig for the third-party VM).
type FilePlacer interface {
	PlaceFile(ctx context.Context, name string, data []byte) (path string, err error)
}

// PodKiller is the ability to kill a pod's containers abruptly (the process dies, the
// object stays), for failover checks.
type PodKiller interface {
	KillPod(ctx context.Context, namespace, name string) error
}

// Inventory is the ability to list what the environment itself runs (namespaces,
// processes), so a test can check that removing a solution leaves it as it was.
type Inventory interface {
	Inventory() ([]string, error)
}
