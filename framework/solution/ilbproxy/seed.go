package ilbproxy

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"reachgate/fixtures"
	"reachgate/framework/cloud"
	"reachgate/framework/pki"
)

// The article's names for its ServiceAccount and bindings.
const (
	SeedServiceAccount = "my-ksa"
)

// SeedBindings are the article's `kubectl create clusterrolebinding` lines.
var SeedBindings = map[string]string{
	"my-view-binding-1":          "view",
	"my-node-reader-binding-1":   "node-reader", // no such ClusterRole exists by default
	"my-cluster-admin-binding-1": "cluster-admin",
}

// applySeed runs the article's steps as written, defects included: step 1 patches
// default/kubernetes to an internal LoadBalancer; the proxy certificate is self-signed with
// only a CN; nginx.conf uses `ssl on`, TLS 1.0/1.1 and an unverified upstream; the
// ServiceAccount gets cluster-admin; the token is looked up via `.secrets[0]`, which is
// empty since Kubernetes 1.24; and the kubeconfig template keeps its typos.
func applySeed(ctx context.Context, cs kubernetes.Interface, o Options, info cloud.ClusterDescription, addr netip.Addr, res *Result) error {
	// Step 1: kubectl edit svc kubernetes (annotations + type LoadBalancer).
	patch := `{"metadata":{"annotations":{"cloud.google.com/neg":"{\"ingress\":true}","networking.gke.io/load-balancer-type":"Internal"}},"spec":{"type":"LoadBalancer"}}`
	if _, err := cs.CoreV1().Services("default").Patch(ctx, "kubernetes", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("article step 1, patch default/kubernetes: %w", err)
	}
	certPEM, keyPEM, err := selfSigned(addr)
	if err != nil {
		return err
	}
	res.ServerPEM = append(append([]byte{}, certPEM...), keyPEM...) // cat cert.crt cert.key > server.pem
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretTLS, Namespace: o.Namespace}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
	if err := apply(ctx, cs.CoreV1().Secrets(o.Namespace), sec); err != nil {
		return err
	}
	conf, err := fixtures.Render("nginx/seed.conf.tmpl", map[string]string{"Endpoint": info.PrivateEndpoint.String(), "Address": addr.String()})
	if err != nil {
		return err
	}
	w := workloadFor(Nginx)
	if err := apply(ctx, cs.CoreV1().ConfigMaps(o.Namespace), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: w.configMap, Namespace: o.Namespace},
		Data: map[string]string{w.confKey: string(conf)}}); err != nil {
		return err
	}
	dep := w.deployment(o.Namespace, o.Replicas, true, false, nil)
	dep.Labels, dep.Spec.Template.Spec.Containers[0].ReadinessProbe = nil, nil
	if err := apply(ctx, cs.AppsV1().Deployments(o.Namespace), dep); err != nil {
		return err
	}
	svc := w.service(o.Namespace, addr.String(), false)
	svc.Annotations["cloud.google.com/neg"] = `{"ingress":true}`
	svc.Labels = map[string]string{"app": w.name}
	if err := apply(ctx, cs.CoreV1().Services(o.Namespace), svc); err != nil {
		return err
	}
	// Section 3: kubectl create serviceaccount my-ksa; three clusterrolebindings.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: SeedServiceAccount, Namespace: o.Namespace}}
	if _, err := cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for name, role := range SeedBindings {
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: SeedServiceAccount, Namespace: o.Namespace}}}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	// name=$(kubectl get serviceaccount my-ksa -o jsonpath='{$.secrets[0].name}'), then the
	// secret's ca.crt and token: nothing is there on Kubernetes >= 1.24.
	cur, err := cs.CoreV1().ServiceAccounts(o.Namespace).Get(ctx, SeedServiceAccount, metav1.GetOptions{})
	if err != nil {
		return err
	}
	var ca, token string
	if len(cur.Secrets) > 0 {
		if s, err := cs.CoreV1().Secrets(o.Namespace).Get(ctx, cur.Secrets[0].Name, metav1.GetOptions{}); err == nil {
			ca, token = string(s.Data["ca.crt"]), string(s.Data["token"])
		}
	}
	res.Token, res.SecretsFound = token, len(cur.Secrets)
	res.Kubeconfig, err = fixtures.Render("seed/kubeconfig.tmpl", map[string]string{"CA": ca, "Server": res.Server, "Token": token})
	return err
}

// selfSigned is `openssl req -x509 -nodes -days 365 -subj /CN=${static_ip} -newkey rsa:2048`:
// a self-signed certificate with only a CN, valid from now for 365 days.
func selfSigned(addr netip.Addr) (certPEM, keyPEM []byte, err error) {
	now := time.Now()
	kp, err := pki.SelfSigned(pki.CertSpec{CommonName: addr.String(), NotBefore: now, NotAfter: now.AddDate(0, 0, 365), RSABits: 2048})
	if err != nil {
		return nil, nil, err
	}
	return kp.CertPEM, kp.KeyPEM, nil
}

// removeSeed undoes applySeed's extra objects and restores default/kubernetes.
func removeSeed(ctx context.Context, cs kubernetes.Interface, ns string) []error {
	var errs []error
	keep := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	for name := range SeedBindings {
		keep(cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}))
	}
	keep(cs.CoreV1().ServiceAccounts(ns).Delete(ctx, SeedServiceAccount, metav1.DeleteOptions{}))
	svc, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err == nil && (svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Annotations["networking.gke.io/load-balancer-type"] != "") {
		patch := `{"metadata":{"annotations":{"cloud.google.com/neg":null,"networking.gke.io/load-balancer-type":null}},"spec":{"type":"ClusterIP"}}`
		_, err = cs.CoreV1().Services("default").Patch(ctx, "kubernetes", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		keep(err)
	}
	return errs
}
