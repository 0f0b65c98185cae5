package findings

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCatalogIsComplete(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, e := range Catalog() {
		if seen[e.ID] {
			t.Errorf("duplicate ID %s", e.ID)
		}
		seen[e.ID] = true
		if !strings.HasPrefix(e.ID, "RG-") || e.Title == "" || e.Why == "" || e.Fix == "" || len(e.Detectors) == 0 {
			t.Errorf("entry %s is incomplete: %+v", e.ID, e)
		}
		for _, d := range e.Detectors {
			if !strings.HasPrefix(d, "lint.") && live[d] == nil {
				t.Errorf("entry %s names detector %q, which is neither lint.* nor a live detector", e.ID, d)
			}
		}
	}
	// Every live detector is named by the catalog.
	for name := range live {
		found := false
		for _, e := range catalog {
			for _, d := range e.Detectors {
				found = found || d == name
			}
		}
		if !found {
			t.Errorf("live detector %s is in no catalog entry", name)
		}
	}
}

// TestCatalogRefsAreSelfContained keeps every Ref readable on its own: public documentation
// named in words, or the source article's solution and step. A section number without the
// document it belongs to, or a file outside the repository, is not a reference.
func TestCatalogRefsAreSelfContained(t *testing.T) {
	t.Parallel()
	article := regexp.MustCompile(`source article, Solution [12] §\d+( and §\d+)*`)
	file := regexp.MustCompile(`\.(md|txt)\b`)
	for _, e := range Catalog() {
		rest := article.ReplaceAllString(e.Ref, "")
		if strings.Contains(rest, "§") || file.MatchString(e.Ref) {
			t.Errorf("entry %s: Ref %q is not self-contained; name the public documentation in words (\"GCP VPC Network Peering: custom route exchange\") or the step (\"source article, Solution 1 §2\")", e.ID, e.Ref)
		}
	}
}

// live names the live detectors as the catalog does.
var live = map[string]any{
	"findings.DetectTLSVersions":              DetectTLSVersions,
	"findings.DetectKubectlX509":              DetectKubectlX509,
	"findings.DetectImpostorAccepted":         DetectImpostorAccepted,
	"findings.DetectClusterAdminBinding":      DetectClusterAdminBinding,
	"findings.DetectMissingClusterRole":       DetectMissingClusterRole,
	"findings.DetectEmptySecretsLookup":       DetectEmptySecretsLookup,
	"findings.DetectTokenExpiry":              DetectTokenExpiry,
	"findings.DetectKubernetesServiceExposed": DetectKubernetesServiceExposed,
	"findings.DetectPeeringImport":            DetectPeeringImport,
}

func TestSeverity(t *testing.T) {
	t.Parallel()
	for _, s := range []Severity{Info, Low, Medium, High, Critical} {
		got, err := ParseSeverity(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil || !strings.Contains(err.Error(), "info, low, medium, high, critical") {
		t.Errorf("ParseSeverity(severe) error = %v; want the list of choices", err)
	}
	fs := []Finding{New("RG-TLS-001", Evidence{}, ""), New("RG-PEER-001", Evidence{}, "")}
	if !AtLeast(fs, Medium) || AtLeast(fs, High) {
		t.Errorf("AtLeast: medium %v high %v; want true, false", AtLeast(fs, Medium), AtLeast(fs, High))
	}
}

func TestFindingJSONAndString(t *testing.T) {
	t.Parallel()
	f := New("RG-NGINX-001", Evidence{File: "nginx.conf", Line: 4, Text: "ssl on;"}, "msg %d", 1)
	if got := f.String(); got != "nginx.conf:4: RG-NGINX-001 high msg 1" {
		t.Errorf("String() = %q", got)
	}
	var m map[string]any
	data, _ := json.Marshal(f)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["severity"] != "high" || m["line"] != float64(4) || m["evidence"] != "ssl on;" || m["fix"] == "" {
		t.Errorf("JSON = %s", data)
	}
	if live := New("RG-TLS-001", Evidence{Text: "x"}, ""); live.Where() != "live" {
		t.Errorf("Where() of a live finding = %q; want live", live.Where())
	}
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func expectIDs(t *testing.T, name string, fs []Finding, want ...string) {
	t.Helper()
	if strings.Join(ids(fs), ",") != strings.Join(want, ",") {
		t.Errorf("%s: findings %v; want %v", name, ids(fs), want)
	}
	for _, f := range fs {
		if f.Evidence.Text == "" {
			t.Errorf("%s: %s has no evidence text", name, f.ID)
		}
	}
}

func TestDetectTLSVersions(t *testing.T) {
	t.Parallel()
	expectIDs(t, "seed nginx", DetectTLSVersions(TLSVersions{Target: "10.128.0.28:443", Accepted: []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12}}), "RG-TLS-001")
	expectIDs(t, "hardened", DetectTLSVersions(TLSVersions{Target: "10.128.0.28:443", Accepted: []uint16{tls.VersionTLS12, tls.VersionTLS13}}))
}

func TestDetectKubectlX509(t *testing.T) {
	t.Parallel()
	const unknown = `E0101 12:00:00.000000 memcache.go:265] couldn't get current server API group list: Get "https://10.128.0.28/api?timeout=32s": tls: failed to verify certificate: x509: certificate signed by unknown authority
Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority`
	expectIDs(t, "seed", DetectKubectlX509(KubectlResult{Command: "kubectl get nodes", Output: unknown}), "RG-TLS-002")
	cn := `Unable to connect to the server: tls: failed to verify certificate: x509: certificate relies on legacy Common Name field, use SANs instead`
	expectIDs(t, "cn-only", DetectKubectlX509(KubectlResult{Command: "kubectl get nodes", Output: cn}), "RG-TLS-004")
	expectIDs(t, "hardened", DetectKubectlX509(KubectlResult{Command: "kubectl get nodes", Output: "NAME STATUS\nnode-1 Ready\n"}))
}

func TestDetectImpostorAccepted(t *testing.T) {
	t.Parallel()
	expectIDs(t, "seed", DetectImpostorAccepted(ImpostorProbe{Proxy: "10.128.0.28", Upstream: "192.168.32.34", Status: 200, ServedByImpostor: true}), "RG-TLS-003")
	expectIDs(t, "hardened", DetectImpostorAccepted(ImpostorProbe{Proxy: "10.128.0.28", Upstream: "192.168.32.34", Status: 502}))
}

func crb(name, role string) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "default", Name: "my-ksa"}}}
}

func TestDetectRBAC(t *testing.T) {
	t.Parallel()
	seed := RBAC{ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("my-view-binding-1", "view"), crb("my-node-reader-binding-1", "node-reader"), crb("my-cluster-admin-binding-1", "cluster-admin")}}
	hardened := RBAC{ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("reachgate-node-reader-reachgate-tp-vm", "reachgate-node-reader")},
		RoleBindings: []rbacv1.RoleBinding{{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "kube-system"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reachgate-node-reader"}}},
		ClusterRoles: []string{"cluster-admin", "view", "reachgate-node-reader"}}
	expectIDs(t, "seed cluster-admin", DetectClusterAdminBinding(seed), "RG-RBAC-001")
	expectIDs(t, "hardened cluster-admin", DetectClusterAdminBinding(hardened))
	expectIDs(t, "seed missing role", DetectMissingClusterRole(seed), "RG-RBAC-002")
	expectIDs(t, "hardened missing role", DetectMissingClusterRole(hardened))
	// Live: the role list comes from the API server; node-reader is absent there too.
	seed.ClusterRoles = []string{"cluster-admin", "view", "edit", "admin"}
	if fs := DetectMissingClusterRole(seed); len(fs) != 1 || !strings.Contains(fs[0].Message, `"node-reader"`) {
		t.Errorf("live role list: %v; want node-reader reported", fs)
	}
	// A user (not a ServiceAccount) with cluster-admin is not this finding.
	user := crb("u", "cluster-admin")
	user.Subjects[0].Kind = "User"
	expectIDs(t, "user", DetectClusterAdminBinding(RBAC{ClusterRoleBindings: []rbacv1.ClusterRoleBinding{user}}))
}

func TestDetectEmptySecretsLookup(t *testing.T) {
	t.Parallel()
	expectIDs(t, "v1.37", DetectEmptySecretsLookup(SecretsLookup{ServiceAccount: "default/my-ksa", Value: "", ServerVersion: "v1.37.2"}), "RG-TOKEN-001")
	expectIDs(t, "v1.23", DetectEmptySecretsLookup(SecretsLookup{ServiceAccount: "default/my-ksa", Value: "my-ksa-token-x7k2q", ServerVersion: "v1.23.17"}))
}

func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("sig"))
}

func TestDetectTokenExpiry(t *testing.T) {
	t.Parallel()
	legacy := jwt(`{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/secret.name":"my-ksa-token-x7k2q","sub":"system:serviceaccount:default:my-ksa"}`)
	bound := jwt(`{"iss":"https://kubernetes.default.svc","exp":1798761600,"sub":"system:serviceaccount:default:reachgate-tp-vm"}`)
	legacyWithExp := jwt(`{"iss":"kubernetes/serviceaccount","exp":1798761600}`)
	expectIDs(t, "legacy", DetectTokenExpiry(Token{Source: "seed kubeconfig", Token: legacy}), "RG-TOKEN-002")
	expectIDs(t, "legacy with exp", DetectTokenExpiry(Token{Source: "x", Token: legacyWithExp}), "RG-TOKEN-002")
	expectIDs(t, "bound", DetectTokenExpiry(Token{Source: "hardened kubeconfig", Token: bound}))
	expectIDs(t, "not a JWT", DetectTokenExpiry(Token{Source: "x", Token: "abcdef"}))
}

func TestDetectKubernetesServiceExposed(t *testing.T) {
	t.Parallel()
	svc := corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	expectIDs(t, "seed", DetectKubernetesServiceExposed(svc), "RG-SVC-001")
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	expectIDs(t, "hardened", DetectKubernetesServiceExposed(svc))
	other := corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	expectIDs(t, "another service", DetectKubernetesServiceExposed(other))
}
