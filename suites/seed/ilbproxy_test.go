package seed

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/fixtures"
	"reachgate/framework/findings"
	"reachgate/framework/lint"
	"reachgate/framework/provider"
	"reachgate/framework/solution/ilbproxy"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
	"reachgate/suites/internal/impostor"
	"reachgate/suites/seed/assert"
)

// nginxPods selects the proxy replicas of both variants (the article's app label).
const nginxPods = "app=nginx"

// variant is one applied ilb-proxy variant and where the detectors look at it.
type variant struct {
	env  provider.Environment
	cs   kubernetes.Interface
	tpVM provider.Host
	res  *ilbproxy.Result
	addr string // the ILB address, port 443
}

func apply(ctx context.Context, v ilbproxy.Variant) *variant {
	env := harness.Env()
	cfg, err := harness.Require[provider.KubeAdmin](env).AdminConfig()
	Expect(err).NotTo(HaveOccurred())
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	harness.RequireSolution(env)
	res, err := ilbproxy.Apply(ctx, env, ilbproxy.Options{Variant: v, Proxy: ilbproxy.Nginx, Log: log})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		Expect(ilbproxy.Remove(ctx, env, ilbproxy.Options{Log: log})).To(Succeed())
	}, NodeTimeout(90*time.Second))
	tpVM := harness.Actor(topology.RoleThirdPartyClient)
	return &variant{env: env, cs: cs, tpVM: tpVM, res: res, addr: net.JoinHostPort(res.Address.String(), "443")}
}

// impostorThroughProxy swaps the API server for an impostor inside the proxy pods,
// restarts the proxies (so none keeps a connection to the real one) and sends GET /version
// through the proxy from the third-party client with tls as the client's TLS settings.
func (v *variant) impostorThroughProxy(ctx context.Context, client *tls.Config) findings.ImpostorProbe {
	ep := v.env.Cluster().PrivateEndpoint
	other, err := otherCA(ep.String())
	Expect(err).NotTo(HaveOccurred())
	imp, err := impostor.Swap(ctx, v.env, v.cs, nginxPods, netip.AddrPortFrom(ep, 443), other, 200, impostorBody)
	if errors.Is(err, impostor.ErrUnsupported) {
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		Expect(imp.Remove(ctx)).To(Succeed())
		// Back to the real API server for whatever runs next.
		Expect(impostor.RestartProxies(ctx, v.env, v.cs, nginxPods, v.handshake)).To(Succeed())
	}, NodeTimeout(90*time.Second))
	Expect(impostor.RestartProxies(ctx, v.env, v.cs, nginxPods, v.handshake)).To(Succeed())
	ev := findings.ImpostorProbe{Proxy: v.addr, Upstream: netip.AddrPortFrom(ep, 443).String()}
	for range 4 { // both replicas, over fresh connections
		status, body := get(ctx, v.tpVM, v.res.Server+"/version", client)
		ev.Status = status
		if bytes.Contains(body, []byte(impostorBody)) {
			ev.ServedByImpostor = true
			break
		}
	}
	return ev
}

// handshake succeeds once the proxy at the ILB completes a TLS handshake from the third-party client.
func (v *variant) handshake(ctx context.Context) error {
	_, err := servedLeaf(ctx, v.tpVM, v.addr)
	return err
}

var _ = Describe("seed findings", Label("seed"), func() {
	Context("ilb-proxy seed (the article's script) with nginx", Ordered, Label("solution", "ilb-proxy", "seed", "nginx"), func() {
		var v *variant
		BeforeAll(func(ctx SpecContext) { v = apply(ctx, ilbproxy.Seed) }, NodeTimeout(2*time.Minute))

		It("RG-KCFG-001: kubectl at the third-party client refuses the script's kubeconfig as written", func(ctx SpecContext) {
			kc := place(ctx, v.tpVM, "seed-as-written.kubeconfig", v.res.Kubeconfig)
			r, err := kubectl(ctx, v.tpVM, kc, "get", "nodes", "--request-timeout=10s")
			Expect(err).To(HaveOccurred(), "kubectl must fail on the article's kubeconfig:\n%s", r.Output)
			Expect(r.Output).To(ContainSubstring("error loading config file"))
			// It never dials: no TLS finding can come from this run.
			assert.None(findings.DetectKubectlX509(r), "kubectl with the unparseable kubeconfig")
			AddReportEntry("kubectl at the third-party client", r.Output, ReportEntryVisibilityAlways)
			// The live detector is kubectl itself; the catalog entry comes from lint's
			// kubeconfig parser over the very bytes the script produced.
			assert.Finding(lintLive("seed.kubeconfig", lint.KindKubeconfig, v.res.Kubeconfig), "RG-KCFG-001")
		}, NodeTimeout(30*time.Second))

		It("RG-TOKEN-001: the .secrets[0] lookup is empty on the lab's API server, so the kubeconfig has no token", func(ctx SpecContext) {
			ev := secretsLookup(ctx, v.cs, "default", ilbproxy.SeedServiceAccount)
			Expect(ev.ServerVersion).To(HavePrefix("v1."))
			assert.Finding(findings.DetectEmptySecretsLookup(ev), "RG-TOKEN-001", "default/my-ksa", ev.ServerVersion)
			Expect(v.res.SecretsFound).To(Equal(0))
			Expect(v.res.Token).To(BeEmpty())
			Expect(string(v.res.Kubeconfig)).To(ContainSubstring("token: : \n"))
			// With no token there is nothing whose expiry could be judged.
			assert.None(findings.DetectTokenExpiry(findings.Token{Source: "seed kubeconfig", Token: v.res.Token}), "the seed token")
		}, NodeTimeout(30*time.Second))

		It("RG-RBAC-001, RG-RBAC-002: cluster-admin is bound to my-ksa, and node-reader does not exist", func(ctx SpecContext) {
			rbac := rbacState(ctx, v.cs)
			admin := findings.DetectClusterAdminBinding(rbac)
			Expect(admin).To(HaveLen(1), "only the script binds cluster-admin to a ServiceAccount:\n%s", assert.List(admin))
			assert.Finding(admin, "RG-RBAC-001", "my-cluster-admin-binding-1", "default/my-ksa")
			missing := findings.DetectMissingClusterRole(rbac)
			Expect(missing).To(HaveLen(1), "only node-reader is missing:\n%s", assert.List(missing))
			assert.Finding(missing, "RG-RBAC-002", "my-node-reader-binding-1", "node-reader")
		}, NodeTimeout(30*time.Second))

		It("RG-SVC-001: default/kubernetes is patched to LoadBalancer", func(ctx SpecContext) {
			svc, err := v.cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			assert.Finding(findings.DetectKubernetesServiceExposed(*svc), "RG-SVC-001", "LoadBalancer")
		}, NodeTimeout(30*time.Second))

		It("RG-TLS-001: the running nginx.conf enables TLS 1.0/1.1 (Debian's OpenSSL 3 refuses them live)", func(ctx SpecContext) {
			ev, vs := tlsVersions(ctx, v.tpVM, v.addr)
			AddReportEntry("TLS versions at "+v.addr, fmt.Sprintf("%+v", vs), ReportEntryVisibilityAlways)
			Expect(ev.Accepted).To(ContainElement(uint16(tls.VersionTLS12)), "the seed proxy serves TLS 1.2")
			// nginx asks for TLSv1 and TLSv1.1, but OpenSSL 3's default security level (Debian
			// 12) forbids them: the handshake fails whatever nginx.conf says. The live
			// detector raises RG-TLS-001 where a proxy image does accept them (the tls suite's
			// negative test shows it on a Go server); here the finding is asserted from the
			// config the pods actually run.
			live := findings.DetectTLSVersions(ev)
			for _, f := range live {
				assert.Finding(live, "RG-TLS-001", f.Evidence.Text)
			}
			file, conf := proxyConfig(ctx, v.cs, "nginx")
			static := lintLive(file, lint.KindNginx, conf)
			assert.Finding(static, "RG-TLS-001", "TLSv1 TLSv1.1")
			// The same config also carries `ssl on` and the unverified upstream.
			assert.Finding(static, "RG-NGINX-001", "ssl on")
			assert.Finding(static, "RG-TLS-003", "proxy_pass https://"+v.env.Cluster().PrivateEndpoint.String())
		}, NodeTimeout(40*time.Second))

		It("RG-TLS-004: kubectl at the third-party client, with the template's typos fixed and the cluster CA, rejects the CN-only certificate", func(ctx SpecContext) {
			kc := place(ctx, v.tpVM, "seed-cluster-ca.kubeconfig", seedKubeconfigFixed(ctx, v))
			r, err := kubectl(ctx, v.tpVM, kc, "get", "nodes", "--request-timeout=10s")
			Expect(err).To(HaveOccurred(), "kubectl must fail:\n%s", r.Output)
			AddReportEntry("kubectl at the third-party client", r.Output, ReportEntryVisibilityAlways)
			// Go checks the name before the chain: the missing SAN is what kubectl reports.
			assert.Finding(findings.DetectKubectlX509(r), "RG-TLS-004", "legacy Common Name")
		}, NodeTimeout(30*time.Second))

		It("RG-TLS-003: the proxy relays an impostor's answer (the upstream is never verified)", func(ctx SpecContext) {
			// The client trusts what the article's curl trusts (server.pem) and checks the
			// chain only: the CN-only certificate cannot pass a name check in Go.
			ev := v.impostorThroughProxy(ctx, chainOnly(v.res.ServerPEM))
			Expect(ev.ServedByImpostor).To(BeTrue(), "GET /version through the seed proxy got %d, not the impostor's answer", ev.Status)
			assert.Finding(findings.DetectImpostorAccepted(ev), "RG-TLS-003", "an impostor at "+ev.Upstream+" answered 200")
		}, NodeTimeout(3*time.Minute))

		It("RG-TLS-002: with a SAN added, kubectl still rejects the self-signed certificate: the kubeconfig's CA did not issue it", func(ctx SpecContext) {
			certPEM, keyPEM, err := selfSignedWithSAN(v.res.Address)
			Expect(err).NotTo(HaveOccurred())
			sec, err := v.cs.CoreV1().Secrets("default").Get(ctx, ilbproxy.SecretTLS, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			sec.Data = map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}
			_, err = v.cs.CoreV1().Secrets("default").Update(ctx, sec, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred())
			// nginx reads its certificate at start: restart, and wait for the new one.
			Expect(impostor.RestartProxies(ctx, v.env, v.cs, nginxPods, func(ctx context.Context) error {
				leaf, err := servedLeaf(ctx, v.tpVM, v.addr)
				if err != nil {
					return err
				}
				if len(leaf.IPAddresses) == 0 {
					return errors.New("still the CN-only certificate")
				}
				return nil
			})).To(Succeed())
			kc := place(ctx, v.tpVM, "seed-cluster-ca.kubeconfig", seedKubeconfigFixed(ctx, v))
			r, err := kubectl(ctx, v.tpVM, kc, "get", "nodes", "--request-timeout=10s")
			Expect(err).To(HaveOccurred(), "kubectl must fail:\n%s", r.Output)
			AddReportEntry("kubectl at the third-party client", r.Output, ReportEntryVisibilityAlways)
			assert.Finding(findings.DetectKubectlX509(r), "RG-TLS-002", "unknown authority")
		}, NodeTimeout(2*time.Minute))
	})

	Context("ilb-proxy hardened with nginx: the same detectors raise nothing", Ordered, Label("solution", "ilb-proxy", "hardened", "nginx"), func() {
		var v *variant
		BeforeAll(func(ctx SpecContext) { v = apply(ctx, ilbproxy.Hardened) }, NodeTimeout(2*time.Minute))

		It("kubectl at the third-party client works with the kubeconfig as delivered; its token expires", func(ctx SpecContext) {
			kc := place(ctx, v.tpVM, "hardened.kubeconfig", v.res.Kubeconfig)
			r, err := kubectl(ctx, v.tpVM, kc, "get", "nodes", "--request-timeout=10s")
			Expect(err).NotTo(HaveOccurred(), r.Output)
			Expect(r.Output).To(ContainSubstring(" Ready "))
			assert.None(findings.DetectKubectlX509(r), "kubectl with the hardened kubeconfig")
			assert.None(lintLive("hardened.kubeconfig", lint.KindKubeconfig, v.res.Kubeconfig), "lint of the hardened kubeconfig")
			Expect(v.res.Token).NotTo(BeEmpty())
			assert.None(findings.DetectTokenExpiry(findings.Token{Source: "hardened kubeconfig", Token: v.res.Token}), "the hardened token")
		}, NodeTimeout(30*time.Second))

		It("gives the ServiceAccount a token without a Secret lookup, and no RBAC finding in the cluster", func(ctx SpecContext) {
			rbac := rbacState(ctx, v.cs)
			assert.None(findings.DetectClusterAdminBinding(rbac), "the cluster's RBAC")
			assert.None(findings.DetectMissingClusterRole(rbac), "the cluster's RBAC")
			// The binding the hardened variant makes refers to a ClusterRole that exists.
			Expect(rbac.ClusterRoles).To(ContainElement(ilbproxy.ClusterRoleName))
		}, NodeTimeout(30*time.Second))

		It("leaves default/kubernetes a ClusterIP Service", func(ctx SpecContext) {
			svc, err := v.cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			assert.None(findings.DetectKubernetesServiceExposed(*svc), "default/kubernetes")
		}, NodeTimeout(30*time.Second))

		It("accepts TLS 1.2 and 1.3 only, and its running nginx.conf lints clean", func(ctx SpecContext) {
			ev, _ := tlsVersions(ctx, v.tpVM, v.addr)
			Expect(ev.Accepted).To(ConsistOf(uint16(tls.VersionTLS12), uint16(tls.VersionTLS13)))
			assert.None(findings.DetectTLSVersions(ev), "the TLS scan")
			file, conf := proxyConfig(ctx, v.cs, "nginx")
			assert.None(lintLive(file, lint.KindNginx, conf), "lint of the running nginx.conf")
		}, NodeTimeout(40*time.Second))

		It("refuses an impostor upstream: 502, not the impostor's answer", func(ctx SpecContext) {
			ev := v.impostorThroughProxy(ctx, verifyWith(v.res.CAPEM))
			Expect(ev.Status).To(Equal(http.StatusBadGateway))
			assert.None(findings.DetectImpostorAccepted(ev), "the impostor probe")
		}, NodeTimeout(3*time.Minute))
	})
})

// seedKubeconfigFixed is the script's kubeconfig with everything but the certificate put
// right, so the TLS handshake is all that stands between kubectl and the API server: the two
// typos (`: :`) removed, the CA it meant to carry (the cluster CA, which `.secrets[0]` gave
// before Kubernetes 1.24) and a token from the TokenRequest API, as RG-TOKEN-001's fix says
// (without a token kubectl prompts for a username before it dials).
func seedKubeconfigFixed(ctx context.Context, v *variant) []byte {
	exp := int64(600)
	tr, err := v.cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, ilbproxy.SeedServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	kc, err := fixtures.Render("seed/kubeconfig.tmpl", map[string]string{
		"CA": base64.StdEncoding.EncodeToString(v.env.Cluster().CAPEM), "Server": v.res.Server, "Token": tr.Status.Token})
	Expect(err).NotTo(HaveOccurred())
	fixed := bytes.ReplaceAll(kc, []byte(": : "), []byte(": "))
	Expect(lintLive("seed-fixed.kubeconfig", lint.KindKubeconfig, fixed)).To(BeEmpty(), "only the certificate may stand in the way")
	return fixed
}
