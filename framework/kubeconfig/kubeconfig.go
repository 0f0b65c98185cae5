// Package kubeconfig gives a third-party VM least-privilege access: a ServiceAccount, a
// ClusterRole with exactly the rules asked for, a binding, a TokenRequest token with a bounded
// lifetime, and a kubeconfig for the server it will dial.
package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// NodeReader is what a platform needs to see a cluster: read nodes, and discovery.
var NodeReader = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}},
	{NonResourceURLs: []string{"/", "/version", "/version/", "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/openapi/*"}, Verbs: []string{"get"}},
}

// ClusterInfoRules let `kubectl cluster-info` list the cluster services it prints; they are
// granted in kube-system only.
var ClusterInfoRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list"}},
}

// ClusterInfoAccess is Request.NamespaceRules for `kubectl cluster-info`: ClusterInfoRules in
// kube-system.
var ClusterInfoAccess = map[string][]rbacv1.PolicyRule{"kube-system": ClusterInfoRules}

// Request describes the access to create.
type Request struct {
	Namespace      string // of the ServiceAccount, default "default"
	ServiceAccount string
	ClusterRole    string // created with Rules, bound to the ServiceAccount
	Rules          []rbacv1.PolicyRule
	// NamespaceRules are granted by a Role and RoleBinding of the same name in each namespace.
	NamespaceRules map[string][]rbacv1.PolicyRule
	TokenTTL       time.Duration // TokenRequest expirationSeconds (the API server may shorten it)

	ClusterName   string
	Server        string // e.g. https://10.128.0.28
	CAPEM         []byte // what the client trusts for Server
	TLSServerName string // verify this name instead of Server's host (L4 passthrough)
}

// Result is the created access; Token is a secret and must not be logged.
type Result struct {
	Kubeconfig []byte
	Token      string
	Expires    time.Time
}

// Create makes (or updates) the ServiceAccount, role and binding, requests a token, and
// renders the kubeconfig.
func Create(ctx context.Context, cs kubernetes.Interface, r Request) (Result, error) {
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	if r.ServiceAccount == "" || r.ClusterRole == "" || r.Server == "" || len(r.CAPEM) == 0 || r.TokenTTL <= 0 {
		return Result{}, errors.New("kubeconfig request needs serviceAccount, clusterRole, server, CA and a positive token TTL")
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "reachgate"}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: r.ServiceAccount, Namespace: r.Namespace, Labels: labels}}
	if _, err := cs.CoreV1().ServiceAccounts(r.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return Result{}, fmt.Errorf("create serviceaccount %s: %w", r.ServiceAccount, err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: r.ClusterRole, Labels: labels}, Rules: r.Rules}
	if err := createOrUpdate(ctx, cs, role); err != nil {
		return Result{}, err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: r.ClusterRole + "-" + r.ServiceAccount, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.ClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.ServiceAccount, Namespace: r.Namespace}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return Result{}, fmt.Errorf("create clusterrolebinding %s: %w", binding.Name, err)
	}
	for ns, rules := range r.NamespaceRules {
		if err := grantIn(ctx, cs, ns, r, rules, labels); err != nil {
			return Result{}, err
		}
	}
	secs := int64(r.TokenTTL / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(r.Namespace).CreateToken(ctx, r.ServiceAccount,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("request token for %s: %w", r.ServiceAccount, err)
	}
	data, err := Render(r, tr.Status.Token)
	if err != nil {
		return Result{}, err
	}
	return Result{Kubeconfig: data, Token: tr.Status.Token, Expires: tr.Status.ExpirationTimestamp.Time}, nil
}

func createOrUpdate(ctx context.Context, cs kubernetes.Interface, role *rbacv1.ClusterRole) error {
	_, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := cs.RbacV1().ClusterRoles().Get(ctx, role.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		cur.Rules = role.Rules
		_, err = cs.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("create clusterrole %s: %w", role.Name, err)
	}
	return nil
}

func grantIn(ctx context.Context, cs kubernetes.Interface, ns string, r Request, rules []rbacv1.PolicyRule, labels map[string]string) error {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: r.ClusterRole, Namespace: ns, Labels: labels}, Rules: rules}
	_, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := cs.RbacV1().Roles(ns).Get(ctx, role.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		cur.Rules = rules
		_, err = cs.RbacV1().Roles(ns).Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("create role %s/%s: %w", ns, role.Name, err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: r.ClusterRole + "-" + r.ServiceAccount, Namespace: ns, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.ClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.ServiceAccount, Namespace: r.Namespace}},
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create rolebinding %s/%s: %w", ns, rb.Name, err)
	}
	return nil
}

// Render writes a single-context kubeconfig with a bearer token.
func Render(r Request, token string) ([]byte, error) {
	cluster := r.ClusterName
	if cluster == "" {
		cluster = "default-cluster"
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: r.Server, CertificateAuthorityData: r.CAPEM, TLSServerName: r.TLSServerName}
	cfg.AuthInfos[r.ServiceAccount] = &clientcmdapi.AuthInfo{Token: token}
	ctxName := r.ServiceAccount + "@" + cluster
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: r.ServiceAccount, Namespace: r.Namespace}
	cfg.CurrentContext = ctxName
	return clientcmd.Write(*cfg)
}

// Delete removes what Create made; missing objects are fine.
func Delete(ctx context.Context, cs kubernetes.Interface, r Request) error {
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	var errs []error
	ignore := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	ignore(cs.RbacV1().ClusterRoleBindings().Delete(ctx, r.ClusterRole+"-"+r.ServiceAccount, metav1.DeleteOptions{}))
	ignore(cs.RbacV1().ClusterRoles().Delete(ctx, r.ClusterRole, metav1.DeleteOptions{}))
	for ns := range r.NamespaceRules {
		ignore(cs.RbacV1().RoleBindings(ns).Delete(ctx, r.ClusterRole+"-"+r.ServiceAccount, metav1.DeleteOptions{}))
		ignore(cs.RbacV1().Roles(ns).Delete(ctx, r.ClusterRole, metav1.DeleteOptions{}))
	}
	ignore(cs.CoreV1().ServiceAccounts(r.Namespace).Delete(ctx, r.ServiceAccount, metav1.DeleteOptions{}))
	return errors.Join(errs...)
}
