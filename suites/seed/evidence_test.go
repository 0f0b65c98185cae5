package seed

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/jsonpath"

	"reachgate/framework/findings"
	"reachgate/framework/lint"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/reports"
	"reachgate/suites/harness"
)

// Evidence gatherers: each reads one thing from the running environment, in the shape a
// live detector of reachgate/framework/findings takes. Seed and hardened variants go
// through the same gatherers and detectors; only the expectations differ.

// rbacState is the cluster's RBAC as the API server has it: every binding and the names of
// the ClusterRoles that exist.
func rbacState(ctx context.Context, cs kubernetes.Interface) findings.RBAC {
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	rbs, err := cs.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	crs, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	names := make([]string, 0, len(crs.Items))
	for _, r := range crs.Items {
		names = append(names, r.Name)
	}
	return findings.RBAC{ClusterRoleBindings: crbs.Items, RoleBindings: rbs.Items, ClusterRoles: names}
}

// secretsLookup is the article's `kubectl get serviceaccount SA -o
// jsonpath='{$.secrets[0].name}'`, evaluated with client-go's jsonpath as kubectl does
// (missing keys print nothing), against the live ServiceAccount.
func secretsLookup(ctx context.Context, cs kubernetes.Interface, ns, name string) findings.SecretsLookup {
	sa, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	raw, err := json.Marshal(sa)
	Expect(err).NotTo(HaveOccurred())
	var obj any
	Expect(json.Unmarshal(raw, &obj)).To(Succeed())
	jp := jsonpath.New("secrets").AllowMissingKeys(true)
	Expect(jp.Parse(`{$.secrets[0].name}`)).To(Succeed())
	var out strings.Builder
	Expect(jp.Execute(&out, obj)).To(Succeed())
	v, err := cs.Discovery().ServerVersion()
	Expect(err).NotTo(HaveOccurred())
	return findings.SecretsLookup{ServiceAccount: ns + "/" + name, Value: out.String(), ServerVersion: v.GitVersion}
}

// proxyConfig returns the nginx.conf the proxy pods run: the ConfigMap key mounted by the
// Deployment's volume that holds it, read from the API server.
func proxyConfig(ctx context.Context, cs kubernetes.Interface, deployment string) (file string, data []byte) {
	d, err := cs.AppsV1().Deployments("default").Get(ctx, deployment, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		for key, val := range cm.Data {
			if strings.HasSuffix(key, ".conf") {
				return "configmap/default/" + cm.Name + "/" + key, []byte(val)
			}
		}
	}
	Fail(fmt.Sprintf("deployment default/%s mounts no ConfigMap with a *.conf key", deployment))
	return "", nil
}

// lintLive runs reachgate lint's static detectors over an artifact read from the live
// environment (the proxy's config, the kubeconfig handed to the third-party VM).
func lintLive(file string, kind lint.Kind, data []byte) []findings.Finding {
	r := lint.Inputs([]lint.Input{{File: file, Kind: kind, Data: data}}, lint.Options{})
	for _, e := range r.Errors() {
		Fail("lint " + e.Error())
	}
	return r.Findings()
}

// kubectl runs kubectl at the host with a kubeconfig placed there and returns what it
// printed, stdout and stderr, whether it failed or not.
func kubectl(ctx context.Context, h provider.Host, kubeconfig string, args ...string) (findings.KubectlResult, error) {
	argv := append([]string{"--kubeconfig", kubeconfig}, args...)
	out, err := h.Kubectl(ctx, argv...)
	text := out
	if err != nil {
		// The host's error is "ARGV at HOST: exit status N: STDERR"; kubectl's own words are
		// the evidence.
		msg := err.Error()
		if i := strings.Index(msg, "exit status "); i >= 0 {
			if j := strings.Index(msg[i:], ": "); j >= 0 {
				msg = msg[i+j+2:]
			}
		}
		text += "\n" + msg
	}
	return findings.KubectlResult{Command: "kubectl " + strings.Join(args, " "), Output: text}, err
}

// place puts a file at the host, or skips the spec where the provider cannot.
func place(ctx context.Context, h provider.Host, name string, data []byte) string {
	p, err := harness.Require[provider.FilePlacer](h).PlaceFile(ctx, name, data)
	Expect(err).NotTo(HaveOccurred())
	return p
}

// tlsVersions handshakes with addr from the host once per protocol version.
func tlsVersions(ctx context.Context, h provider.Host, addr string) (findings.TLSVersions, []probe.VersionSupport) {
	vs, err := probe.ProbeVersions(ctx, h, addr, "", 0)
	Expect(err).NotTo(HaveOccurred())
	ev := findings.TLSVersions{Target: addr}
	for _, v := range vs {
		if id, ok := probe.VersionID(v.Version); ok && v.Accepted {
			ev.Accepted = append(ev.Accepted, id)
		}
	}
	AddReportEntry(reports.EntryChecks, probe.Checks{probe.VersionsCheck(vs, tls.VersionTLS12)})
	return ev, vs
}
