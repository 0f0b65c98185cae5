package ilbproxy

import (
	"context"
	"net/netip"
	"reachgate/framework/cloud"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestApplySeedAndRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewSimpleClientset(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}})
	o := Options{Variant: Seed}
	o.defaults()
	info := cloud.ClusterDescription{Name: "private-cluster", PrivateEndpoint: netip.MustParseAddr("192.168.32.34")}
	res := &Result{Server: "https://10.128.0.28", Address: ilbAddr}
	if err := applySeed(ctx, cs, o, info, ilbAddr, res); err != nil {
		t.Fatalf("applySeed: %v", err)
	}

	// Step 1: default/kubernetes patched into an internal LoadBalancer.
	k, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if k.Spec.Type != corev1.ServiceTypeLoadBalancer || k.Annotations["networking.gke.io/load-balancer-type"] != "Internal" {
		t.Errorf("default/kubernetes type %q annotations %v; want an internal LoadBalancer", k.Spec.Type, k.Annotations)
	}
	// The certificate: CN only, also handed back as server.pem (cert then key).
	sec, err := cs.CoreV1().Secrets("default").Get(ctx, SecretTLS, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := string(sec.Data[corev1.TLSCertKey]) + string(sec.Data[corev1.TLSPrivateKeyKey]); string(res.ServerPEM) != want {
		t.Error("ServerPEM is not the secret's certificate followed by its key")
	}
	if certFits(map[string][]byte{corev1.TLSCertKey: sec.Data[corev1.TLSCertKey], "ca.crt": sec.Data[corev1.TLSCertKey]}, ilbAddr) {
		t.Error("the seed certificate fits the address; want it refused (CN only, no SAN)")
	}
	cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "nginx-conf", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if conf := cm.Data["nginx.conf"]; !strings.Contains(conf, "ssl on;") || !strings.Contains(conf, "proxy_pass https://192.168.32.34;") {
		t.Errorf("nginx.conf is not the seed config:\n%s", conf)
	}
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var vols []string
	for _, v := range d.Spec.Template.Spec.Volumes {
		vols = append(vols, v.Name)
	}
	if diff := cmp.Diff([]string{"conf", "tls"}, vols); diff != "" {
		t.Errorf("seed deployment volumes (-want +got):\n%s", diff)
	}
	if p := d.Spec.Template.Spec.Containers[0].ReadinessProbe; p != nil {
		t.Errorf("seed deployment readiness probe = %+v; want none, as in the article", p)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("seed deployment replicas = %v; want 2", d.Spec.Replicas)
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.LoadBalancerIP != "10.128.0.28" || svc.Annotations["cloud.google.com/neg"] != `{"ingress":true}` {
		t.Errorf("seed service loadBalancerIP %q annotations %v", svc.Spec.LoadBalancerIP, svc.Annotations)
	}
	if _, ok := svc.Annotations["networking.gke.io/internal-load-balancer-allow-global-access"]; ok {
		t.Error("seed service asks for global access; the article does not")
	}
	// Section 3: my-ksa with cluster-admin among its bindings.
	for name, role := range SeedBindings {
		b, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("clusterrolebinding %s: %v", name, err)
			continue
		}
		if b.RoleRef.Name != role || len(b.Subjects) != 1 || b.Subjects[0].Name != SeedServiceAccount {
			t.Errorf("clusterrolebinding %s = roleRef %q subjects %+v; want %q for %s", name, b.RoleRef.Name, b.Subjects, role, SeedServiceAccount)
		}
	}
	// `.secrets[0]` is empty since Kubernetes 1.24: no token, and the template's typos stay.
	if res.SecretsFound != 0 || res.Token != "" {
		t.Errorf("secretsFound %d token %q; want 0 and empty", res.SecretsFound, res.Token)
	}
	if !strings.Contains(string(res.Kubeconfig), "certificate-authority-data: : \n") || !strings.Contains(string(res.Kubeconfig), "server: https://10.128.0.28") {
		t.Errorf("seed kubeconfig:\n%s", res.Kubeconfig)
	}

	// Applying again is idempotent.
	if err := applySeed(ctx, cs, o, info, ilbAddr, res); err != nil {
		t.Fatalf("second applySeed: %v", err)
	}

	if errs := removeSeed(ctx, cs, "default"); len(errs) != 0 {
		t.Fatalf("removeSeed: %v", errs)
	}
	k, err = cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if k.Spec.Type != corev1.ServiceTypeClusterIP || k.Annotations["networking.gke.io/load-balancer-type"] != "" || k.Annotations["cloud.google.com/neg"] != "" {
		t.Errorf("default/kubernetes after removeSeed: type %q annotations %v; want ClusterIP without them", k.Spec.Type, k.Annotations)
	}
	for name := range SeedBindings {
		if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); err == nil {
			t.Errorf("clusterrolebinding %s survived removeSeed", name)
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, SeedServiceAccount, metav1.GetOptions{}); err == nil {
		t.Errorf("serviceaccount %s survived removeSeed", SeedServiceAccount)
	}
	// Nothing left to remove is not an error.
	if errs := removeSeed(ctx, cs, "default"); len(errs) != 0 {
		t.Errorf("second removeSeed: %v; want none", errs)
	}
}
