package findings

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Live detectors take what a suite observed on a running environment and return the findings
// it proves (none when the evidence is clean). They do no I/O.

// TLSVersions is what a TLS scan of an endpoint saw: the protocol versions the server
// completed a handshake with (crypto/tls constants).
type TLSVersions struct {
	Target   string
	Accepted []uint16
}

// DetectTLSVersions reports RG-TLS-001 when TLS 1.0 or 1.1 was accepted.
func DetectTLSVersions(ev TLSVersions) []Finding {
	var old []string
	for _, v := range ev.Accepted {
		if v == tls.VersionTLS10 || v == tls.VersionTLS11 {
			old = append(old, tls.VersionName(v))
		}
	}
	if len(old) == 0 {
		return nil
	}
	sort.Strings(old)
	return []Finding{New("RG-TLS-001", Evidence{Text: fmt.Sprintf("%s accepted %s", ev.Target, strings.Join(old, ", "))},
		"%s completes handshakes with %s", ev.Target, strings.Join(old, " and "))}
}

// KubectlResult is one kubectl run: the command and what it printed (stdout and stderr).
type KubectlResult struct {
	Command string
	Output  string
}

// DetectKubectlX509 reports RG-TLS-004 when kubectl rejected a CN-only certificate and
// RG-TLS-002 when it rejected the server's certificate as not issued by the kubeconfig's CA.
func DetectKubectlX509(ev KubectlResult) []Finding {
	line := firstLine(ev.Output, "x509:")
	if line == "" {
		line = firstLine(ev.Output, "tls: failed to verify certificate")
	}
	if line == "" {
		return nil
	}
	text := fmt.Sprintf("%s: %s", ev.Command, line)
	switch {
	case strings.Contains(line, "legacy Common Name") || strings.Contains(line, "doesn't contain any IP SANs"):
		return []Finding{New("RG-TLS-004", Evidence{Text: text}, "kubectl rejects the proxy's certificate: it has no subjectAltName for the address dialed")}
	case strings.Contains(line, "unknown authority") || strings.Contains(line, "not valid for") || strings.Contains(line, "is valid for"):
		return []Finding{New("RG-TLS-002", Evidence{Text: text}, "kubectl does not trust the proxy's certificate with the kubeconfig's CA")}
	}
	return []Finding{New("RG-TLS-002", Evidence{Text: text}, "kubectl fails certificate verification against the proxy")}
}

func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, sub); i >= 0 {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// ImpostorProbe is a request sent through the proxy while the upstream address was taken
// over by a server with a certificate the cluster CA did not issue.
type ImpostorProbe struct {
	Proxy    string // the address the client dialed
	Upstream string // the impostor's address
	Status   int    // HTTP status the client got
	// ServedByImpostor is true when the response came from the impostor (the proxy
	// completed its upstream handshake).
	ServedByImpostor bool
}

// DetectImpostorAccepted reports RG-TLS-003 when the proxy relayed to the impostor.
func DetectImpostorAccepted(ev ImpostorProbe) []Finding {
	if !ev.ServedByImpostor {
		return nil
	}
	return []Finding{New("RG-TLS-003", Evidence{Text: fmt.Sprintf("via %s, an impostor at %s answered %d", ev.Proxy, ev.Upstream, ev.Status)},
		"the proxy at %s accepted an impostor upstream at %s", ev.Proxy, ev.Upstream)}
}

// RBAC is the cluster's RBAC state (live: listed from the API; static: read from manifests).
type RBAC struct {
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	RoleBindings        []rbacv1.RoleBinding
	// ClusterRoles are the names that exist. Nil means "only the defaults": see DefaultClusterRole.
	ClusterRoles []string
}

// DetectClusterAdminBinding reports RG-RBAC-001 for each binding of cluster-admin to a
// ServiceAccount.
func DetectClusterAdminBinding(ev RBAC) []Finding {
	var out []Finding
	check := func(kind, name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
		if ref.Kind != "ClusterRole" || ref.Name != "cluster-admin" {
			return
		}
		for _, s := range subjects {
			if s.Kind == rbacv1.ServiceAccountKind {
				out = append(out, New("RG-RBAC-001", Evidence{Text: fmt.Sprintf("%s %s binds cluster-admin to serviceaccount %s/%s", kind, name, s.Namespace, s.Name)},
					"%s %s grants cluster-admin to ServiceAccount %s/%s", kind, name, s.Namespace, s.Name))
			}
		}
	}
	for _, b := range ev.ClusterRoleBindings {
		check("ClusterRoleBinding", b.Name, b.RoleRef, b.Subjects)
	}
	for _, b := range ev.RoleBindings {
		check("RoleBinding", b.Namespace+"/"+b.Name, b.RoleRef, b.Subjects)
	}
	return out
}

// DefaultClusterRole reports whether a ClusterRole of that name exists in every cluster
// (the user-facing roles and the system: bootstrap roles).
func DefaultClusterRole(name string) bool {
	switch name {
	case "cluster-admin", "admin", "edit", "view":
		return true
	}
	return strings.HasPrefix(name, "system:")
}

// DetectMissingClusterRole reports RG-RBAC-002 for each binding whose ClusterRole does not
// exist.
func DetectMissingClusterRole(ev RBAC) []Finding {
	exists := DefaultClusterRole
	if ev.ClusterRoles != nil {
		set := map[string]bool{}
		for _, n := range ev.ClusterRoles {
			set[n] = true
		}
		exists = func(n string) bool { return set[n] }
	}
	var out []Finding
	check := func(kind, name string, ref rbacv1.RoleRef) {
		if ref.Kind == "ClusterRole" && !exists(ref.Name) {
			out = append(out, New("RG-RBAC-002", Evidence{Text: fmt.Sprintf("%s %s refers to ClusterRole %s, which does not exist", kind, name, ref.Name)},
				"%s %s binds ClusterRole %q, which does not exist: it grants nothing", kind, name, ref.Name))
		}
	}
	for _, b := range ev.ClusterRoleBindings {
		check("ClusterRoleBinding", b.Name, b.RoleRef)
	}
	for _, b := range ev.RoleBindings {
		check("RoleBinding", b.Namespace+"/"+b.Name, b.RoleRef)
	}
	return out
}

// SecretsLookup is the article's `kubectl get serviceaccount SA -o jsonpath='{$.secrets[0].name}'`
// as run against a cluster, with what it printed.
type SecretsLookup struct {
	ServiceAccount string // namespace/name
	Value          string
	ServerVersion  string // e.g. v1.37.2
}

// DetectEmptySecretsLookup reports RG-TOKEN-001 when the lookup came back empty.
func DetectEmptySecretsLookup(ev SecretsLookup) []Finding {
	if strings.TrimSpace(ev.Value) != "" {
		return nil
	}
	return []Finding{New("RG-TOKEN-001", Evidence{Text: fmt.Sprintf("{$.secrets[0].name} of serviceaccount %s is empty on Kubernetes %s", ev.ServiceAccount, ev.ServerVersion)},
		"ServiceAccount %s lists no token Secret on Kubernetes %s: the script's kubeconfig gets no token", ev.ServiceAccount, ev.ServerVersion)}
}

// Token is a bearer token found somewhere (Source says where, e.g. a kubeconfig's user).
type Token struct {
	Source string
	Token  string
	// Now is when the check runs (zero: time.Now()).
	Now time.Time
}

// TokenClaims returns a JWT's expiry ("exp") and whether it is a legacy Secret-based token
// (issued for kubernetes/serviceaccount with a secret.name claim). ok is false when tok is
// not a JWT.
func TokenClaims(tok string) (exp time.Time, legacy, ok bool) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return time.Time{}, false, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false, false
	}
	var c struct {
		Exp    *float64 `json:"exp"`
		Iss    string   `json:"iss"`
		Secret string   `json:"kubernetes.io/serviceaccount/secret.name"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return time.Time{}, false, false
	}
	if c.Exp != nil {
		exp = time.Unix(int64(*c.Exp), 0)
	}
	return exp, c.Secret != "" || c.Iss == "kubernetes/serviceaccount", true
}

// DetectTokenExpiry reports RG-TOKEN-002 for a JWT without an expiry, or from a legacy
// service-account-token Secret. Non-JWT tokens are not judged.
func DetectTokenExpiry(ev Token) []Finding {
	exp, legacy, ok := TokenClaims(ev.Token)
	if !ok {
		return nil
	}
	switch {
	case exp.IsZero():
		return []Finding{New("RG-TOKEN-002", Evidence{Text: ev.Source + ": token has no exp claim"}, "the token in %s never expires", ev.Source)}
	case legacy:
		return []Finding{New("RG-TOKEN-002", Evidence{Text: ev.Source + ": token comes from a service-account-token Secret"}, "the token in %s is a legacy Secret-based token", ev.Source)}
	}
	return nil
}

// DetectKubernetesServiceExposed reports RG-SVC-001 when default/kubernetes is not ClusterIP.
func DetectKubernetesServiceExposed(svc corev1.Service) []Finding {
	if svc.Namespace != "" && svc.Namespace != "default" || svc.Name != "kubernetes" {
		return nil
	}
	if svc.Spec.Type == "" || svc.Spec.Type == corev1.ServiceTypeClusterIP {
		return nil
	}
	return []Finding{New("RG-SVC-001", Evidence{Text: fmt.Sprintf("service default/kubernetes has type %s", svc.Spec.Type)},
		"Service default/kubernetes is of type %s", svc.Spec.Type)}
}
