package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"reachgate/framework/topology"
	"reachgate/lab/binaries"
	"reachgate/lab/controlplane"
	"reachgate/lab/netns"
)

// A private GKE cluster the container API created (clusters.create) in a VPC the API
// inserted. It is peering-based, as GKE makes a cluster given a master range: the control
// plane lives in a Google-owned VPC holding the master range, joined to the cluster's VPC by
// a peering GKE names and owns; the nodes are VMs of the cluster's subnet. Declared adds the
// three to the topology, Reconcile realizes them as it does the file's and starts the
// control plane (etcd, kube-apiserver) and the GKE emulation; clusters.delete removes them.

// APICluster is the cluster as created.
type APICluster struct {
	Name     string `json:"name"`
	Location string `json:"location"`
	Network  string `json:"network"`
	Subnet   string `json:"subnet"`
	// PodRange and ServiceRange name the subnet's secondary ranges (VPC-native).
	PodRange     string            `json:"podRange"`
	ServiceRange string            `json:"serviceRange"`
	MasterCIDR   netip.Prefix      `json:"masterCidr"`
	NodeIPs      []netip.Addr      `json:"nodeIps"`
	Labels       map[string]string `json:"labels,omitempty"`
	Description  string            `json:"description,omitempty"`
	Created      time.Time         `json:"created"`
}

// clusterPeeringSeq numbers the cluster's peering link apart from the API's peerings.
const clusterPeeringSeq = 8000

func (c *APICluster) hash() string {
	sum := sha256.Sum256([]byte("cluster/" + c.Location + "/" + c.Name))
	return hex.EncodeToString(sum[:8])
}

// PeeringName is the peering GKE creates on the cluster's VPC (gke-n<hash>-peer).
func (c *APICluster) PeeringName() string { return "gke-n" + c.hash() + "-peer" }

// MasterNetwork is the Google-owned VPC of the control plane.
func (c *APICluster) MasterNetwork() string { return "gke-" + c.hash()[:8] + "-net" }

// MasterHost is the control plane's host.
func (c *APICluster) MasterHost() string { return "gke-" + c.hash()[:8] + "-master" }

// PrivateEndpoint is the control plane's address: the master range's second usable one, as GKE's.
func (c *APICluster) PrivateEndpoint() netip.Addr { return c.MasterCIDR.Addr().Next().Next() }

// NodeNames are the node VMs' names, as GKE names a default pool's
// (gke-<cluster>-default-pool-<hash>-<suffix>).
func (c *APICluster) NodeNames() []string {
	short := c.Name
	if len(short) > 20 {
		short = short[:20]
	}
	var out []string
	for i := range c.NodeIPs {
		sum := sha256.Sum256([]byte(c.hash() + "/" + strconv.Itoa(i)))
		out = append(out, "gke-"+short+"-default-pool-"+c.hash()[:8]+"-"+hex.EncodeToString(sum[:2]))
	}
	return out
}

// declareCluster adds the API's cluster to d (a copy Declared owns): the master VPC and host,
// the nodes, the peering and the resolved cluster.
func declareCluster(d *topology.Topology, cs *CloudState) {
	c := cs.Cluster
	n := cs.Networks[c.Network]
	if c == nil || n == nil {
		return
	}
	i := slices.IndexFunc(n.Subnets, func(s APISubnet) bool { return s.Name == c.Subnet })
	if i < 0 {
		return
	}
	sub := n.Subnets[i]
	secondary := func(name string) netip.Prefix {
		for _, r := range sub.Secondary {
			if r.Name == name {
				return r.CIDR
			}
		}
		return netip.Prefix{}
	}
	region := topology.RegionOf(c.Location)
	d.Networks = append(d.Networks, &topology.Network{Name: c.MasterNetwork(), Cloud: "gcp", ManagedBy: "gke",
		Subnets: []*topology.Subnetwork{{Name: "master", Region: region, CIDR: c.MasterCIDR}}})
	g := &topology.GKECluster{Name: c.Name, Location: c.Location, VPC: c.Network, Subnet: c.Subnet,
		PodRange: secondary(c.PodRange), ServiceRange: secondary(c.ServiceRange), NodeRange: sub.CIDR,
		MasterVPC: c.MasterNetwork(), MasterCIDR: c.MasterCIDR, PrivateEndpoint: c.PrivateEndpoint(),
		Peering: c.PeeringName(), KubernetesVersion: topology.DefaultK8sVersion, ControlPlane: c.MasterHost()}
	for i, name := range c.NodeNames() {
		d.Hosts = append(d.Hosts, &topology.Machine{Name: name, VPC: c.Network, Subnet: c.Subnet, Region: region,
			IP: c.NodeIPs[i], Role: topology.RoleNode})
		g.Nodes = append(g.Nodes, name)
	}
	d.Hosts = append(d.Hosts, &topology.Machine{Name: c.MasterHost(), VPC: c.MasterNetwork(), Subnet: "master", Region: region,
		IP: c.PrivateEndpoint(), Role: topology.RoleControlPlane})
	d.Links = append(d.Links, &topology.Connection{Name: c.PeeringName(), Type: topology.LinkPeering,
		A: topology.Endpoint{VPC: c.Network}, B: topology.Endpoint{VPC: c.MasterNetwork(), ImportCustomRoutes: true}})
	d.Cluster = g
}

// clusterHost reports whether host is a node or the control plane of the API's cluster.
func (cs *CloudState) clusterHost(host string) bool {
	c := cs.Cluster
	return c != nil && (host == c.MasterHost() || slices.Contains(c.NodeNames(), host))
}

// fixCluster names the cluster's interfaces: c<i> for the nodes on the VPC's router, cm for
// the control plane on its own, p8000 for the peering.
func (cs *CloudState) fixCluster(f netns.Fixed) {
	c := cs.Cluster
	if c == nil {
		return
	}
	for i, name := range c.NodeNames() {
		f.HostIfs[name] = "c" + strconv.Itoa(i)
	}
	f.HostIfs[c.MasterHost()] = "cm"
	f.Links[c.PeeringName()] = clusterPeeringSeq
}

// clusterProcesses are the names of the processes a cluster runs (control plane, GKE
// emulation) besides those of its nodes' pods.
var clusterProcesses = []string{"etcd", "kube-apiserver", "gke"}

// realizeCluster starts the API's cluster's control plane and GKE emulation when they do not
// run, once its namespaces exist; and after clusters.delete, when its namespaces are gone,
// forgets its processes and removes its control plane's files. It runs under Reconcile's lock.
func (l *Lab) realizeCluster(ctx context.Context, self string, log *slog.Logger) error {
	if l.Topology.Cluster != nil {
		return nil // the file's cluster: Up started it
	}
	if l.Cloud.Cluster == nil {
		var gone []netns.Process
		have := map[string]bool{}
		for _, ns := range l.State.Namespaces {
			have[ns] = true
		}
		for _, p := range l.State.Processes {
			if p.Namespace != "" && !have[p.Namespace] || slices.Contains(clusterProcesses, p.Name) || strings.HasPrefix(p.Name, "ilb/") {
				if err := p.Stop(ctx, 2*time.Second); err != nil {
					return err
				}
				gone = append(gone, p)
			}
		}
		if len(gone) > 0 {
			if err := l.State.Forget(gone, nil); err != nil {
				return err
			}
			l.CP = nil
			return os.RemoveAll(l.State.Path("controlplane"))
		}
		return nil
	}
	for _, p := range l.State.Processes {
		if p.Name == "kube-apiserver" && p.Running() {
			return nil
		}
	}
	bins, err := binaries.Ensure(ctx, log)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := l.startCluster(ctx, bins, self, log); err != nil {
		return fmt.Errorf("cluster %s: %w", l.Cloud.Cluster.Name, err)
	}
	log.Info("cluster created", "cluster", l.Cloud.Cluster.Name, "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	return nil
}

// LoadCP reads the control plane of the current cluster when this Lab has not (the cluster
// came after Open), and forgets it when there is none.
func (l *Lab) LoadCP() error {
	if l.Current == nil || l.Current.Cluster == nil {
		l.CP = nil
		return nil
	}
	if l.CP != nil {
		return nil
	}
	cp, err := controlplane.Load(l.cpConfig(binaries.Set{}))
	if err != nil {
		return err
	}
	l.CP = cp
	return nil
}
