package lab

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"reachgate/framework/provider/gcp"
	"reachgate/framework/topology"
	"reachgate/lab/netns"
)

const vpcCluster = "testdata/vpc-cluster.yaml"

// The gcp provider creates a private, peering-based cluster through clusters.create in a bare
// lab: the lab starts a real control plane in a master VPC peered with the cluster's VPC and
// registers the nodes; an in-VPC VM reaches the private endpoint over GKE's peering, the
// third party does not; teardown (clusters.delete first) leaves no resource, namespace or
// process.
func TestProvisionClusterIntoBareLab(t *testing.T) {
	l, env, c := bareLabOf(t, "prov-c", vpcCluster)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	whole, err := topology.ParseFile(vpcCluster)
	if err != nil {
		t.Fatal(err)
	}
	url, sum, err := env.AgentSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Provision(ctx, whole, gcp.ProvisionOptions{Run: "pc", ExternalThirdParty: true, AgentURL: url, AgentSHA256: sum, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("provision with a cluster into the lab: %.2fs", p.Took.Seconds())
	cl := p.Cluster
	if cl == nil || cl.Name != "rg-pc-private-cluster" || !strings.HasPrefix(cl.Peering, "gke-n") || len(cl.Nodes) != 2 {
		t.Fatalf("the cluster: %+v, want rg-pc-private-cluster with GKE's peering and 2 node VMs", cl)
	}
	if pr, err := c.GetPeering(ctx, "rg-pc-gke", cl.Peering); err != nil || pr.Name != cl.Peering {
		t.Errorf("GKE's peering on the cluster's VPC: %+v, %v", pr, err)
	}
	// The control plane is real: its nodes registered and Ready, at the subnet's first addresses.
	if err := l.Refresh(); err != nil {
		t.Fatal(err)
	}
	if err := l.LoadCP(); err != nil || l.CP == nil {
		t.Fatalf("the lab's control plane: %v", err)
	}
	cs, err := l.Clientset(l.CP.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes: %v, %v", nodes, err)
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		}
		if !ready || !slices.Contains(cl.Nodes, n.Name) {
			t.Errorf("node %s: ready %v; want Ready, one of the node VMs %v", n.Name, ready, cl.Nodes)
		}
	}
	// The in-VPC VM reaches the private endpoint across GKE's peering; the third party does not.
	jb := c.AgentHost(p.Hosts["jumpbox"].Zone, p.Hosts["jumpbox"].Instance)
	out, err := jb.Run(ctx, "curl", "-sk", "-m", "5", "https://192.168.32.34/version")
	if err != nil || !strings.Contains(out, `"gitVersion"`) {
		t.Errorf("jumpbox -> the private endpoint: %q, %v; want the API server's version", out, err)
	}
	tp, err := env.Host("tp-vm")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := tp.Run(ctx, "curl", "-sk", "-m", "2", "https://192.168.32.34/version"); err == nil {
		t.Errorf("tp-vm reached the private endpoint with no path to it: %q", out)
	}
	if err := c.Teardown(ctx, "pc", testWriter{t}); err != nil {
		t.Fatal(err)
	}
	left, err := c.FindLeftovers(ctx, gcp.JanitorOptions{})
	if err != nil || len(left) != 0 {
		t.Fatalf("after teardown: %v %v", left, err)
	}
	if err := l.State.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, pr := range l.State.Processes {
		if pr.Name == "etcd" || pr.Name == "kube-apiserver" || pr.Name == "gke" {
			t.Errorf("process %s (pid %d) still recorded after the cluster's deletion", pr.Name, pr.PID)
		}
	}
	all, err := netns.ListNamespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range all {
		if strings.HasPrefix(ns, "rg-prov-c-") && strings.Contains(ns, "gke-") {
			t.Errorf("namespace %s left after the cluster's deletion", ns)
		}
	}
}
