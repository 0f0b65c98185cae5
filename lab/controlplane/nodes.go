package controlplane

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodeSpec is a GKE node as the lab presents it.
type NodeSpec struct {
	Name     string `json:"name"`
	IP       string `json:"ip"`
	Zone     string `json:"zone"`
	Region   string `json:"region"`
	Pool     string `json:"pool"`
	Version  string `json:"version"`
	PodCIDR  string `json:"podCIDR,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// RegisterNodes creates the Node objects that are missing, with GKE's labels.
func RegisterNodes(ctx context.Context, cs kubernetes.Interface, nodes []NodeSpec) error {
	for _, n := range nodes {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: n.Name,
				Labels: map[string]string{
					"kubernetes.io/hostname":        n.Name,
					"kubernetes.io/os":              "linux",
					"kubernetes.io/arch":            "amd64",
					"cloud.google.com/gke-nodepool": n.Pool,
					"topology.kubernetes.io/zone":   n.Zone,
					"topology.kubernetes.io/region": n.Region,
				},
			},
			Spec: corev1.NodeSpec{PodCIDR: n.PodCIDR},
		}
		if n.PodCIDR != "" {
			node.Spec.PodCIDRs = []string{n.PodCIDR}
		}
		_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("register node %s: %w", n.Name, err)
		}
	}
	return nil
}

// ReportStatus writes each node's status as a kubelet would: Ready, addresses, capacity and
// version. Without it nodes show Unknown, since no kubelet runs in the lab.
func ReportStatus(ctx context.Context, cs kubernetes.Interface, nodes []NodeSpec) error {
	now := metav1.NewTime(time.Now())
	for _, n := range nodes {
		node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read node %s: %w", n.Name, err)
		}
		transition := now
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				transition = c.LastTransitionTime
			}
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("2"),
			corev1.ResourceMemory: resource.MustParse("4030604Ki"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		node.Status = corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "kubelet is posting ready status (reachgate lab)", LastHeartbeatTime: now, LastTransitionTime: transition,
			}},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.IP},
				{Type: corev1.NodeHostName, Address: n.Name},
			},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: n.Version, ContainerRuntimeVersion: "containerd://2.1.0",
				OSImage: "Container-Optimized OS from Google", OperatingSystem: "linux", Architecture: "amd64",
				KernelVersion: "6.6.0-cos",
			},
		}
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update status of node %s: %w", n.Name, err)
		}
	}
	return nil
}

// SystemNamespaces are the namespaces a new cluster has.
var SystemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// EnsureServiceAccounts creates the system namespaces (the API server makes them too, a
// moment after it is ready) and their "default" ServiceAccounts, so the cluster is settled
// when the lab reports it up.
func EnsureServiceAccounts(ctx context.Context, cs kubernetes.Interface) error {
	for _, ns := range SystemNamespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create serviceaccount %s/default: %w", ns, err)
		}
	}
	return nil
}

// WaitSettled waits until the API server's own bootstrap objects exist (the default/kubernetes
// Service appears shortly after /readyz), so callers see a stable cluster.
func WaitSettled(ctx context.Context, cs kubernetes.Interface) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the default/kubernetes Service did not appear: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
