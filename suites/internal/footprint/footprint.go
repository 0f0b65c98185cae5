// Package footprint measures what a solution's Apply adds to the cluster and records it, with
// the cloud resources the solution names, for the report's comparison of solutions.
package footprint

import (
	"context"
	"slices"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/framework/provider"
	"reachgate/reports"
)

// KubeObjects lists the cluster's objects of the kinds solutions create ("kind ns/name" or
// "kind name"), sorted: ConfigMaps, Secrets, ServiceAccounts, Services, Pods, Deployments and
// Roles in default and kube-system, and the ClusterRoles and ClusterRoleBindings.
func KubeObjects(ctx context.Context, cs kubernetes.Interface) []string {
	GinkgoHelper()
	var out []string
	add := func(kind, name string) { out = append(out, kind+" "+name) }
	for _, ns := range []string{"default", "kube-system"} {
		opts := metav1.ListOptions{}
		cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range cms.Items {
			add("configmap", ns+"/"+o.Name)
		}
		secs, err := cs.CoreV1().Secrets(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range secs.Items {
			add("secret", ns+"/"+o.Name)
		}
		sas, err := cs.CoreV1().ServiceAccounts(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range sas.Items {
			add("serviceaccount", ns+"/"+o.Name)
		}
		svcs, err := cs.CoreV1().Services(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range svcs.Items {
			add("service", ns+"/"+o.Name)
		}
		pods, err := cs.CoreV1().Pods(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range pods.Items {
			add("pod", ns+"/"+o.Name)
		}
		deps, err := cs.AppsV1().Deployments(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range deps.Items {
			add("deployment", ns+"/"+o.Name)
		}
		roles, err := cs.RbacV1().Roles(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range roles.Items {
			add("role", ns+"/"+o.Name)
		}
		rbs, err := cs.RbacV1().RoleBindings(ns).List(ctx, opts)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range rbs.Items {
			add("rolebinding", ns+"/"+o.Name)
		}
	}
	crs, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	for _, o := range crs.Items {
		add("clusterrole", o.Name)
	}
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	for _, o := range crbs.Items {
		add("clusterrolebinding", o.Name)
	}
	sort.Strings(out)
	return out
}

// Added lists what is in after and not in before, without pods (the Deployment's controller
// makes them, not the solution).
func Added(before, after []string) []string {
	var out []string
	for _, x := range after {
		if !slices.Contains(before, x) && !strings.HasPrefix(x, "pod ") {
			out = append(out, x)
		}
	}
	return out
}

// Record adds the footprint of one Apply to the current spec's report: the cloud resources
// the solution names and the Kubernetes objects Apply added. labels is the comparison row
// (zero: the spec's own labels).
func Record(labels reports.Labels, cloud, before, after []string) {
	GinkgoHelper()
	fp := reports.Footprint{Labels: labels, Cloud: cloud, Kube: Added(before, after)}
	Expect(fp.Kube).NotTo(BeEmpty(), "Apply added no Kubernetes object: the third-party VM's ServiceAccount at least")
	AddReportEntry(reports.EntryFootprint, fp)
}

// OfApply runs apply (a solution's Apply, which must succeed, returning the cloud resources the
// solution names) and records its footprint: those resources and the Kubernetes objects apply
// added to env's cluster.
func OfApply(ctx context.Context, env provider.Environment, apply func() []string) {
	GinkgoHelper()
	ka, ok := env.(provider.KubeAdmin)
	Expect(ok).To(BeTrue(), "the provider cannot "+provider.AbilityText[provider.KubeAdmin]())
	cfg, err := ka.AdminConfig()
	Expect(err).NotTo(HaveOccurred())
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	before := KubeObjects(ctx, cs)
	cloud := apply()
	Record(reports.Labels{}, cloud, before, KubeObjects(ctx, cs))
}
