package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"reachgate/framework/topology"
	"reachgate/lab/binaries"
	"reachgate/lab/controlplane"
	"reachgate/lab/netns"
)

// HeartbeatInterval is how often the kubelet emulation reports node status.
const HeartbeatInterval = 10 * time.Second

func (l *Lab) cpConfig(bins binaries.Set) controlplane.Config {
	c := l.Current.Cluster
	return controlplane.Config{
		Cluster:     c.Name,
		Namespace:   l.Plan.Hosts[c.ControlPlane],
		Endpoint:    c.PrivateEndpoint,
		ServiceCIDR: c.ServiceRange,
		Dir:         l.State.Path("controlplane"),
		APIServer:   bins.APIServer,
		Etcd:        bins.Etcd,
	}
}

// NodeSpecs returns the cluster's nodes as the lab presents them to the API server.
func (l *Lab) NodeSpecs() []controlplane.NodeSpec {
	c := l.Current.Cluster
	var out []controlplane.NodeSpec
	for i, name := range c.Nodes {
		h := l.Current.Host(name)
		out = append(out, controlplane.NodeSpec{
			Name: name, IP: h.IP.String(), Zone: c.Location, Region: h.Region, Pool: "default-pool",
			Version: c.KubernetesVersion, PodCIDR: nodePodCIDR(c, i),
		})
	}
	return out
}

func nodePodCIDR(c *topology.GKECluster, i int) string {
	if p, ok := c.NodePodCIDR(i); ok {
		return p.String()
	}
	return ""
}

func (l *Lab) startCluster(ctx context.Context, bins binaries.Set, self string, log *slog.Logger) error {
	cp, err := controlplane.Start(ctx, l.State, l.cpConfig(bins), log)
	if err != nil {
		return err
	}
	l.CP = cp
	cs, err := l.Clientset(l.CP.Namespace)
	if err != nil {
		return err
	}
	if err := controlplane.EnsureServiceAccounts(ctx, cs); err != nil {
		return err
	}
	if err := controlplane.WaitSettled(ctx, cs); err != nil {
		return err
	}
	nodes := l.NodeSpecs()
	if err := controlplane.RegisterNodes(ctx, cs, nodes); err != nil {
		return err
	}
	if err := controlplane.ReportStatus(ctx, cs, nodes); err != nil {
		return err
	}
	if err := l.writeHostKubeconfigs(); err != nil {
		return err
	}
	if self != "" {
		// The GKE emulation (kubelets, controllers) runs at the first node's position and
		// reaches the control plane over the lab network, as GKE's kubelets do.
		first := l.Current.Cluster.Nodes[0]
		p, err := l.State.Start(netns.StartSpec{
			Name: "gke", Namespace: l.Plan.Hosts[first], Path: self,
			Args: []string{"lab", "gke", "--name", l.State.Name},
			Env:  []string{"REACHGATE_STATE_DIR=" + netns.StateRoot()},
		})
		if err != nil {
			return err
		}
		log.Info("GKE emulation started", "pid", p.PID, "at", first, "nodes", len(nodes))
	}
	log.Info("nodes registered and Ready", "count", len(nodes))
	return nil
}

// writeHostKubeconfigs gives every host but the control plane an admin kubeconfig for the
// private endpoint, as `gcloud container clusters get-credentials --internal-ip` would.
func (l *Lab) writeHostKubeconfigs() error {
	c := l.Current.Cluster
	for _, h := range l.Current.Hosts {
		if h.Role == topology.RoleControlPlane {
			continue
		}
		dir := l.State.Path("hosts", h.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		path := filepath.Join(dir, "kubeconfig")
		if err := controlplane.WriteKubeconfig(path, controlplane.Kubeconfig{
			Cluster: "gke_" + c.Location + "_" + c.Name, Server: l.CP.URL(), CA: l.CP.CA.CertPEM,
			User: "admin", ClientCert: l.CP.Admin.CertPEM, ClientKey: l.CP.Admin.KeyPEM,
		}); err != nil {
			return err
		}
		info := l.State.Hosts[h.Name]
		info.Kubeconfig = path
		l.State.Hosts[h.Name] = info
	}
	return l.State.Save()
}

// Clientset returns an admin client whose connections start in the given namespace
// ("" = the caller's own namespace).
func (l *Lab) Clientset(fromNS string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", l.CP.AdminKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load admin kubeconfig: %w", err)
	}
	cfg.Timeout = 10 * time.Second
	// The lab's controllers poll a small cluster often; client-go's default 5 QPS would
	// throttle them into seconds-long loops.
	cfg.QPS, cfg.Burst = 200, 400
	if fromNS != "" {
		cfg.Dial = netns.Dialer(fromNS)
	}
	return kubernetes.NewForConfig(cfg)
}
