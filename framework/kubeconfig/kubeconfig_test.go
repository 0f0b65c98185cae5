package kubeconfig_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"

	"reachgate/framework/kubeconfig"
)

var caPEM = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")

func request() kubeconfig.Request {
	return kubeconfig.Request{
		Namespace:      "tenants",
		ServiceAccount: "tp-vm",
		ClusterRole:    "node-reader",
		Rules:          kubeconfig.NodeReader,
		NamespaceRules: map[string][]rbacv1.PolicyRule{
			"kube-system": kubeconfig.ClusterInfoRules,
			"monitoring":  {{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}},
		},
		TokenTTL:      time.Hour,
		ClusterName:   "private-cluster",
		Server:        "https://10.128.0.28",
		CAPEM:         caPEM,
		TLSServerName: "kubernetes.default",
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	type want struct {
		context, cluster, server, tlsServerName, user, token, namespace string
	}
	withoutName := request()
	withoutName.ClusterName, withoutName.TLSServerName, withoutName.Namespace = "", "", ""
	tests := []struct {
		name  string
		req   kubeconfig.Request
		token string
		want  want
	}{
		{"full", request(), "secret-token",
			want{"tp-vm@private-cluster", "private-cluster", "https://10.128.0.28", "kubernetes.default", "tp-vm", "secret-token", "tenants"}},
		{"defaults", withoutName, "t2",
			want{"tp-vm@default-cluster", "default-cluster", "https://10.128.0.28", "", "tp-vm", "t2", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := kubeconfig.Render(tt.req, tt.token)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			cfg, err := clientcmd.Load(data)
			if err != nil {
				t.Fatalf("clientcmd.Load of the rendered kubeconfig: %v\n%s", err, data)
			}
			if cfg.CurrentContext != tt.want.context {
				t.Errorf("current-context = %q; want %q", cfg.CurrentContext, tt.want.context)
			}
			if len(cfg.Contexts) != 1 || len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 {
				t.Errorf("got %d contexts, %d clusters, %d users; want one each", len(cfg.Contexts), len(cfg.Clusters), len(cfg.AuthInfos))
			}
			kctx := cfg.Contexts[cfg.CurrentContext]
			if kctx == nil {
				t.Fatalf("no context %q in %v", cfg.CurrentContext, cfg.Contexts)
			}
			got := want{context: cfg.CurrentContext, cluster: kctx.Cluster, user: kctx.AuthInfo, namespace: kctx.Namespace}
			if cl := cfg.Clusters[kctx.Cluster]; cl != nil {
				got.server, got.tlsServerName = cl.Server, cl.TLSServerName
				if diff := cmp.Diff(tt.req.CAPEM, cl.CertificateAuthorityData); diff != "" {
					t.Errorf("certificate-authority-data (-want +got):\n%s", diff)
				}
				if cl.InsecureSkipTLSVerify {
					t.Error("insecure-skip-tls-verify = true; want false")
				}
			}
			if u := cfg.AuthInfos[kctx.AuthInfo]; u != nil {
				got.token = u.Token
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("rendered kubeconfig (-want +got):\n%s", diff)
			}
		})
	}
}

var expires = time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)

// newClient is a fake clientset that answers TokenRequests (the fake's own CreateToken
// stores nothing and finds no object to answer with) and records the TTL asked for.
func newClient(t *testing.T, objs ...runtime.Object) (*fake.Clientset, *int64) {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	var ttl int64
	cs.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := ca.GetObject().(*authv1.TokenRequest).DeepCopy()
		if tr.Spec.ExpirationSeconds != nil {
			ttl = *tr.Spec.ExpirationSeconds
		}
		tr.Status = authv1.TokenRequestStatus{Token: "token-for-" + ca.GetNamespace(), ExpirationTimestamp: metav1.NewTime(expires)}
		return true, tr, nil
	})
	return cs, &ttl
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, ttl := newClient(t)
	r := request()
	res, err := kubeconfig.Create(ctx, cs, r)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	sa, err := cs.CoreV1().ServiceAccounts("tenants").Get(ctx, "tp-vm", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("serviceaccount: %v", err)
	}
	if got := sa.Labels["app.kubernetes.io/managed-by"]; got != "reachgate" {
		t.Errorf("serviceaccount label managed-by = %q; want reachgate", got)
	}
	role, err := cs.RbacV1().ClusterRoles().Get(ctx, "node-reader", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("clusterrole: %v", err)
	}
	if diff := cmp.Diff(kubeconfig.NodeReader, role.Rules); diff != "" {
		t.Errorf("clusterrole rules (-want +got):\n%s", diff)
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "tp-vm", Namespace: "tenants"}}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "node-reader-tp-vm", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("clusterrolebinding: %v", err)
	}
	if diff := cmp.Diff(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "node-reader"}, crb.RoleRef); diff != "" {
		t.Errorf("clusterrolebinding roleRef (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(subject, crb.Subjects); diff != "" {
		t.Errorf("clusterrolebinding subjects (-want +got):\n%s", diff)
	}
	for ns, rules := range r.NamespaceRules {
		role, err := cs.RbacV1().Roles(ns).Get(ctx, "node-reader", metav1.GetOptions{})
		if err != nil {
			t.Errorf("role in %s: %v", ns, err)
			continue
		}
		if diff := cmp.Diff(rules, role.Rules); diff != "" {
			t.Errorf("role rules in %s (-want +got):\n%s", ns, diff)
		}
		rb, err := cs.RbacV1().RoleBindings(ns).Get(ctx, "node-reader-tp-vm", metav1.GetOptions{})
		if err != nil {
			t.Errorf("rolebinding in %s: %v", ns, err)
			continue
		}
		if diff := cmp.Diff(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "node-reader"}, rb.RoleRef); diff != "" {
			t.Errorf("rolebinding roleRef in %s (-want +got):\n%s", ns, diff)
		}
		if diff := cmp.Diff(subject, rb.Subjects); diff != "" {
			t.Errorf("rolebinding subjects in %s (-want +got):\n%s", ns, diff)
		}
	}
	// Roles only where asked.
	roles, err := cs.RbacV1().Roles("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(roles.Items) != len(r.NamespaceRules) {
		t.Errorf("got %d roles; want %d", len(roles.Items), len(r.NamespaceRules))
	}
	if *ttl != 3600 {
		t.Errorf("TokenRequest expirationSeconds = %d; want 3600", *ttl)
	}
	if res.Token != "token-for-tenants" || !res.Expires.Equal(expires) {
		t.Errorf("result token, expires = %q, %v; want %q, %v", res.Token, res.Expires, "token-for-tenants", expires)
	}
	cfg, err := clientcmd.Load(res.Kubeconfig)
	if err != nil {
		t.Fatalf("load the result's kubeconfig: %v", err)
	}
	if got := cfg.AuthInfos["tp-vm"]; got == nil || got.Token != res.Token {
		t.Errorf("kubeconfig user tp-vm = %+v; want token %q", got, res.Token)
	}
}

func TestCreateDefaultNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, _ := newClient(t)
	r := request()
	r.Namespace = ""
	if _, err := kubeconfig.Create(ctx, cs, r); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "tp-vm", metav1.GetOptions{}); err != nil {
		t.Errorf("serviceaccount default/tp-vm: %v", err)
	}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "node-reader-tp-vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != "default" {
		t.Errorf("clusterrolebinding subjects = %+v; want the ServiceAccount in default", crb.Subjects)
	}
}

func TestCreateTwiceUpdatesClusterRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, _ := newClient(t)
	r := request()
	r.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes", "pods"}, Verbs: []string{"get"}}}
	if _, err := kubeconfig.Create(ctx, cs, r); err != nil {
		t.Fatalf("first Create: %v", err)
	}
	r.Rules = kubeconfig.NodeReader
	if _, err := kubeconfig.Create(ctx, cs, r); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	role, err := cs.RbacV1().ClusterRoles().Get(ctx, "node-reader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kubeconfig.NodeReader, role.Rules); diff != "" {
		t.Errorf("clusterrole rules after the second Create (-want +got):\n%s", diff)
	}
}

func TestCreateRejectsIncompleteRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*kubeconfig.Request)
	}{
		{"no serviceAccount", func(r *kubeconfig.Request) { r.ServiceAccount = "" }},
		{"no clusterRole", func(r *kubeconfig.Request) { r.ClusterRole = "" }},
		{"no server", func(r *kubeconfig.Request) { r.Server = "" }},
		{"no CA", func(r *kubeconfig.Request) { r.CAPEM = nil }},
		{"zero TTL", func(r *kubeconfig.Request) { r.TokenTTL = 0 }},
		{"negative TTL", func(r *kubeconfig.Request) { r.TokenTTL = -time.Minute }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, _ := newClient(t)
			r := request()
			tt.modify(&r)
			if _, err := kubeconfig.Create(context.Background(), cs, r); err == nil {
				t.Error("Create: got nil error; want the request refused")
			}
			if got := cs.Actions(); len(got) != 0 {
				t.Errorf("Create made %d API calls for a refused request (first: %v); want none", len(got), got[0])
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, _ := newClient(t,
		// Not Create's: must survive.
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "tenants"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"}},
	)
	r := request()
	if _, err := kubeconfig.Create(ctx, cs, r); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := kubeconfig.Delete(ctx, cs, r); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	gone := map[string]error{}
	_, gone["serviceaccount"] = cs.CoreV1().ServiceAccounts("tenants").Get(ctx, "tp-vm", metav1.GetOptions{})
	_, gone["clusterrole"] = cs.RbacV1().ClusterRoles().Get(ctx, "node-reader", metav1.GetOptions{})
	_, gone["clusterrolebinding"] = cs.RbacV1().ClusterRoleBindings().Get(ctx, "node-reader-tp-vm", metav1.GetOptions{})
	for ns := range r.NamespaceRules {
		_, gone["role in "+ns] = cs.RbacV1().Roles(ns).Get(ctx, "node-reader", metav1.GetOptions{})
		_, gone["rolebinding in "+ns] = cs.RbacV1().RoleBindings(ns).Get(ctx, "node-reader-tp-vm", metav1.GetOptions{})
	}
	for what, err := range gone {
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s after Delete: got error %v; want NotFound", what, err)
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts("tenants").Get(ctx, "other", metav1.GetOptions{}); err != nil {
		t.Errorf("unrelated serviceaccount after Delete: %v", err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{}); err != nil {
		t.Errorf("unrelated clusterrole after Delete: %v", err)
	}
	// Again, with everything already gone.
	if err := kubeconfig.Delete(ctx, cs, r); err != nil {
		t.Errorf("second Delete: %v; want nil", err)
	}
}

func TestDeleteToleratesPartialState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, _ := newClient(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tp-vm", Namespace: "default"}})
	r := request()
	r.Namespace = "" // Delete defaults it as Create does
	if err := kubeconfig.Delete(ctx, cs, r); err != nil {
		t.Fatalf("Delete with only the ServiceAccount present: %v", err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "tp-vm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("serviceaccount after Delete: got error %v; want NotFound", err)
	}
}

// NodeReader is what the third-party VM holds cluster-wide: reading nodes and discovery,
// nothing more. Walk its rules so a widened rule fails here, not in a security review.
func TestNodeReaderGrantsOnlyReadingNodes(t *testing.T) {
	t.Parallel()
	readVerbs := []string{"get", "list", "watch"}
	for i, r := range kubeconfig.NodeReader {
		if len(r.ResourceNames) != 0 {
			t.Errorf("rule %d: resourceNames %v; want none", i, r.ResourceNames)
		}
		for _, v := range r.Verbs {
			if !slices.Contains(readVerbs, v) {
				t.Errorf("rule %d: verb %q; want only %v", i, v, readVerbs)
			}
		}
		switch {
		case len(r.NonResourceURLs) > 0:
			if len(r.Resources) != 0 || len(r.APIGroups) != 0 {
				t.Errorf("rule %d mixes nonResourceURLs with resources %v / apiGroups %v", i, r.Resources, r.APIGroups)
			}
			for _, u := range r.NonResourceURLs {
				if u == "*" || u == "/*" {
					t.Errorf("rule %d: nonResourceURL %q grants every path", i, u)
				}
			}
			if slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" }) {
				t.Errorf("rule %d: nonResourceURL verbs %v; want get only", i, r.Verbs)
			}
		default:
			if diff := cmp.Diff([]string{""}, r.APIGroups); diff != "" {
				t.Errorf("rule %d: apiGroups (-want +got):\n%s", i, diff)
			}
			if diff := cmp.Diff([]string{"nodes"}, r.Resources); diff != "" {
				t.Errorf("rule %d: resources (-want +got):\n%s", i, diff)
			}
		}
	}
	// And it does grant what it is for.
	if !slices.ContainsFunc(kubeconfig.NodeReader, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.Resources, "nodes") && slices.Contains(r.Verbs, "list")
	}) {
		t.Error("NodeReader does not grant list on nodes")
	}
}

func TestClusterInfoRulesListServicesOnly(t *testing.T) {
	t.Parallel()
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list"}}}
	if diff := cmp.Diff(want, kubeconfig.ClusterInfoRules); diff != "" {
		t.Errorf("ClusterInfoRules (-want +got):\n%s", diff)
	}
}
