package ilbproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/ilbproxy"
	"reachgate/framework/topology"
	"reachgate/reports"
	"reachgate/suites/harness"
	"reachgate/suites/internal/footprint"
)

// The article's Solution 1, once per proxy implementation: the third-party VM reaches the
// API server through an internal load balancer in front of two proxy replicas.
var _ = Describe("ilb-proxy", Label("solution", "ilb-proxy"), func() {
	for _, proxy := range ilbproxy.Proxies {
		Context("hardened with "+string(proxy), Ordered, Label("hardened", string(proxy)), func() {
			var (
				env  provider.Environment
				cs   kubernetes.Interface
				res  *ilbproxy.Result
				tpVM provider.Host
				kc   string
			)
			BeforeAll(func(ctx SpecContext) {
				env = harness.Env()
				var before []string
				res, cs, before = applyRestoring(ctx, env, ilbproxy.Hardened, proxy)
				AddReportEntry("apply seconds", fmt.Sprintf("%.2f", res.Seconds))
				footprint.Record(reports.Labels{}, res.CloudFootprint(), before, footprint.KubeObjects(ctx, cs))
				tpVM = harness.Actor(topology.RoleThirdPartyClient)
				var err error
				kc, err = harness.Require[provider.FilePlacer](tpVM).PlaceFile(ctx, "ilb-proxy.kubeconfig", res.Kubeconfig)
				Expect(err).NotTo(HaveOccurred())
			}, NodeTimeout(2*time.Minute))

			It("admits a client in another region at the ILB: global access is on", func(ctx SpecContext) {
				jump := harness.Actor(topology.RoleInVPCClient)
				vip := netip.AddrPortFrom(res.Address, 443)
				r := probe.TCP(ctx, jump, vip.String(), 3*time.Second)
				Expect(r.Outcome).To(Equal(probe.Connected), "TCP %s from %s (%s): %+v", vip, jump.Name(), env.Topology().Host(jump.Name()).Region, r)
				ok, reason, err := harness.Require[provider.Explainer](env).Explain(jump.Name(), vip)
				Expect(err).NotTo(HaveOccurred())
				Expect(ok).To(BeTrue(), reason)
			}, NodeTimeout(20*time.Second))

			It("answers the article's curl at the ILB address with 200", func(ctx SpecContext) {
				r, err := probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: res.Server + "/", CAPEM: res.CAPEM,
					ServerName: res.TLSServerName, Token: res.Token})
				Expect(err).NotTo(HaveOccurred())
				Expect(r.Status).To(Equal(200))
			}, NodeTimeout(20*time.Second))

			It("runs kubectl get nodes at the third-party client: every node Ready", func(ctx SpecContext) {
				out, err := tpVM.Kubectl(ctx, "--kubeconfig", kc, "get", "nodes", "--request-timeout=10s")
				Expect(err).NotTo(HaveOccurred())
				for _, n := range env.Cluster().Nodes {
					Expect(out).To(MatchRegexp(`(?m)^`+n+`\s+Ready\s`), "node %s in:\n%s", n, out)
				}
			}, NodeTimeout(30*time.Second))

			It("runs kubectl cluster-info at the third-party client: control plane at the ILB address", func(ctx SpecContext) {
				out, err := tpVM.Kubectl(ctx, "--kubeconfig", kc, "cluster-info", "--request-timeout=10s")
				Expect(err).NotTo(HaveOccurred())
				Expect(out).To(ContainSubstring("Kubernetes control plane"))
				Expect(out).To(ContainSubstring(res.Server))
			}, NodeTimeout(30*time.Second))

			It("gives the token no more than intended: auth can-i create pods says no", func(ctx SpecContext) {
				out, err := tpVM.Kubectl(ctx, "--kubeconfig", kc, "auth", "can-i", "create", "pods", "--request-timeout=10s")
				Expect(err).To(HaveOccurred(), "can-i must exit non-zero for a denied verb")
				Expect(out).To(HavePrefix("no"))
				out, err = tpVM.Kubectl(ctx, "--kubeconfig", kc, "auth", "can-i", "list", "nodes", "--request-timeout=10s")
				Expect(err).NotTo(HaveOccurred())
				Expect(out).To(HavePrefix("yes"))
			}, NodeTimeout(30*time.Second))

			It("serves a certificate that verifies against the kubeconfig's CA for the name it dials", func(ctx SpecContext) {
				pool := x509.NewCertPool()
				Expect(pool.AppendCertsFromPEM(res.CAPEM)).To(BeTrue())
				name := res.TLSServerName
				if name == "" {
					name = res.Address.String()
				}
				raw, err := tpVM.DialContext(ctx, "tcp", net.JoinHostPort(res.Address.String(), "443"))
				Expect(err).NotTo(HaveOccurred())
				conn := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
				defer conn.Close()
				Expect(conn.HandshakeContext(ctx)).To(Succeed())
				leaf := conn.ConnectionState().PeerCertificates[0]
				Expect(leaf.VerifyHostname(name)).To(Succeed())
				AddReportEntry("certificate", fmt.Sprintf("subject=%s dns=%v ip=%v expires=%s", leaf.Subject, leaf.DNSNames, leaf.IPAddresses, leaf.NotAfter.Format(time.DateOnly)))
			}, NodeTimeout(20*time.Second))

			It("meets the probe's checks and budgets from the third-party client: TLS chain, SAN, expiry, versions, latency, kubectl", Label(harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
				harness.ExpectProbePasses(ctx, tpVM, probe.Options{URL: res.Server, CAPEM: res.CAPEM, ServerName: res.TLSServerName, Token: res.Token, Kubeconfig: kc})
			}, NodeTimeout(2*time.Minute))

			It("keeps answering when a proxy replica dies: failures stop within 5 s", func(ctx SpecContext) {
				killer := harness.Require[provider.PodKiller](env)
				pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app in (nginx,reachgate-proxy)"})
				Expect(err).NotTo(HaveOccurred())
				Expect(pods.Items).To(HaveLen(2))
				victim := pods.Items[0].Name
				killed := make(chan time.Time, 1)
				go func() {
					defer GinkgoRecover()
					time.Sleep(2 * time.Second)
					at := time.Now()
					Expect(killer.KillPod(ctx, "default", victim)).To(Succeed())
					killed <- at
				}()
				get := func(ctx context.Context) error {
					r, err := probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: res.CAPEM,
						ServerName: res.TLSServerName, Token: res.Token, Timeout: 2 * time.Second, NoKeepAlive: true})
					if err == nil && r.Status != 200 {
						err = fmt.Errorf("status %d", r.Status)
					}
					return err
				}
				samples := probe.Continuous(ctx, 25, 9*time.Second, get)
				var killedAt time.Time
				Eventually(killed).Should(Receive(&killedAt))
				w := probe.Window(samples, killedAt)
				AddReportEntry("failover", fmt.Sprintf("%d requests at %.1f/s, %d failed, last failure %v after the kill", w.Requests, w.Rate, w.Failures, w.LastFailure.Round(time.Millisecond)))
				Expect(w.Rate).To(BeNumerically(">=", 20))
				Expect(w.LastFailure).To(BeNumerically("<=", 5*time.Second))
				Expect(w.RecoveredAfter).To(BeTrue(), "requests after the last failure must all succeed")
			}, NodeTimeout(30*time.Second))
		})
	}
})

// snapshot names what Apply may create: API objects in default and kube-system, cluster
// RBAC, and (where the provider can tell) its own namespaces and processes.
// applyRestoring applies the solution's variant with proxy, and registers its removal, which
// must leave the API server and the lab as they were before Apply: the next container
// snapshots what it starts from (the seed variant patches default/kubernetes to an internal
// LoadBalancer, whose load balancer the lab stops only after Remove returns). It returns the
// result, an admin clientset and the snapshot taken before Apply.
func applyRestoring(ctx SpecContext, env provider.Environment, variant ilbproxy.Variant, proxy ilbproxy.Proxy) (*ilbproxy.Result, kubernetes.Interface, []string) {
	cfg, err := harness.Require[provider.KubeAdmin](env).AdminConfig()
	Expect(err).NotTo(HaveOccurred())
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	before := snapshot(ctx, cs, env)
	log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	harness.RequireSolution(env)
	res, err := ilbproxy.Apply(ctx, env, ilbproxy.Options{Variant: variant, Proxy: proxy, Log: log})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		Expect(ilbproxy.Remove(ctx, env, ilbproxy.Options{Log: log})).To(Succeed())
		Eventually(func(ctx context.Context) string { return diff(before, snapshot(ctx, cs, env)) }).WithContext(ctx).
			WithTimeout(20*time.Second).Should(BeEmpty(), "Remove must leave the API server and the lab as before Apply")
	}, NodeTimeout(90*time.Second))
	return res, cs, before
}

func snapshot(ctx context.Context, cs kubernetes.Interface, env provider.Environment) []string {
	out := footprint.KubeObjects(ctx, cs)
	if inv, ok := env.(provider.Inventory); ok {
		items, err := inv.Inventory()
		Expect(err).NotTo(HaveOccurred())
		out = append(out, items...)
	}
	sort.Strings(out)
	return out
}

// diff lists what is only in a ("-") or only in b ("+").
func diff(a, b []string) string {
	in := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out string
	for _, x := range a {
		if !mb[x] {
			out += "- " + x + "\n"
		}
	}
	for _, x := range b {
		if !ma[x] {
			out += "+ " + x + "\n"
		}
	}
	return out
}

// The article's script as written: it stands up, but what it hands the third-party VM does
// not work (the seed-findings suite explains each defect).
var _ = Describe("ilb-proxy seed (the article's script)", Label("solution", "ilb-proxy", "seed", "nginx"), Ordered, func() {
	var (
		env  provider.Environment
		res  *ilbproxy.Result
		tpVM provider.Host
	)
	BeforeAll(func(ctx SpecContext) {
		env = harness.Env()
		res, _, _ = applyRestoring(ctx, env, ilbproxy.Seed, ilbproxy.Nginx)
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
	}, NodeTimeout(2*time.Minute))

	It("serves the ILB address, but its CN-only certificate (server.pem) fails verification in today's TLS clients", func(ctx SpecContext) {
		res1 := probe.TCP(ctx, tpVM, net.JoinHostPort(res.Address.String(), "443"), 3*time.Second)
		Expect(res1.Outcome).To(Equal(probe.Connected))
		_, err := probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: res.ServerPEM})
		Expect(err).To(MatchError(ContainSubstring("legacy Common Name field")))
	}, NodeTimeout(20*time.Second))

	It("refuses a client in another region at the ILB: the Service has no global access", func(ctx SpecContext) {
		// The in-VPC client is in another region than the cluster; the load balancer is regional.
		jump := harness.Actor(topology.RoleInVPCClient)
		at := env.Topology().Host(jump.Name())
		Expect(at.Region).NotTo(Equal(env.Cluster().Region), "the in-vpc-client must be in another region than the cluster for this spec")
		vip := netip.AddrPortFrom(res.Address, 443)
		r := probe.TCP(ctx, jump, vip.String(), 3*time.Second)
		Expect(r.Outcome).To(Equal(probe.Timeout), "TCP %s from %s: %+v", vip, jump.Name(), r)
		ok, reason, err := harness.Require[provider.Explainer](env).Explain(jump.Name(), vip)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("model: "+jump.Name()+" -> "+vip.String(), reason)
		Expect(ok).To(BeFalse())
		Expect(reason).To(ContainSubstring("enters vpc " + at.VPC + " in " + at.Region))
		Expect(reason).To(ContainSubstring("internal-load-balancer-allow-global-access"))
	}, NodeTimeout(20*time.Second))

	It("produces a kubeconfig without a token: .secrets[0] is empty on Kubernetes >= 1.24", func() {
		Expect(res.SecretsFound).To(Equal(0))
		Expect(res.Token).To(BeEmpty())
		Expect(string(res.Kubeconfig)).To(ContainSubstring("token: : \n"))
	})
})
