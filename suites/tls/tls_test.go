package tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"

	"reachgate/fixtures"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/selfbin"
	"reachgate/framework/solution/ilbproxy"
	"reachgate/framework/topology"
	"reachgate/reports"
	"reachgate/suites/harness"
	"reachgate/suites/internal/impostor"
)

// budgets is fixtures/budgets.yaml, or the file in $REACHGATE_BUDGETS.
func budgets() *probe.Budgets {
	if p := os.Getenv("REACHGATE_BUDGETS"); p != "" {
		b, err := probe.LoadBudgetsFile(p)
		Expect(err).NotTo(HaveOccurred())
		return b
	}
	b, err := probe.ParseBudgets("embedded:fixtures/budgets.yaml", fixtures.Budgets())
	Expect(err).NotTo(HaveOccurred())
	return b
}

// profile is the network profile latency is judged on: $REACHGATE_PROFILE, default none
// (the lab's unimpaired links).
func profile() string {
	if p := os.Getenv("REACHGATE_PROFILE"); p != "" {
		return p
	}
	return "none"
}

// nginxPods selects the nginx proxy replicas.
const nginxPods = "app=nginx"

// proxyCheck fails unless a TLS handshake with the ILB completes from the third-party client.
func proxyCheck(tpVM provider.Host, addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		raw, err := tpVM.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // liveness only
		defer c.Close()
		return c.HandshakeContext(ctx)
	}
}

var _ = Describe("tls", Label("tls"), func() {
	Context("hardened ilb-proxy", Ordered, Label("solution", "ilb-proxy", "hardened", "nginx"), func() {
		var (
			env  provider.Environment
			cs   kubernetes.Interface
			res  *ilbproxy.Result
			tpVM provider.Host
			kc   string
			b    *probe.Budgets
			addr string
		)
		BeforeAll(func(ctx SpecContext) {
			env = harness.Env()
			b = budgets()
			cfg, err := harness.Require[provider.KubeAdmin](env).AdminConfig()
			Expect(err).NotTo(HaveOccurred())
			cs, err = kubernetes.NewForConfig(cfg)
			Expect(err).NotTo(HaveOccurred())
			log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
			harness.RequireSolution(env)
			res, err = ilbproxy.Apply(ctx, env, ilbproxy.Options{Variant: ilbproxy.Hardened, Proxy: ilbproxy.Nginx, Log: log})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) {
				Expect(ilbproxy.Remove(ctx, env, ilbproxy.Options{Log: log})).To(Succeed())
			}, NodeTimeout(90*time.Second))
			tpVM = harness.Actor(topology.RoleThirdPartyClient)
			kc, err = harness.Require[provider.FilePlacer](tpVM).PlaceFile(ctx, "tls-ilb-proxy.kubeconfig", res.Kubeconfig)
			Expect(err).NotTo(HaveOccurred())
			addr = net.JoinHostPort(res.Address.String(), "443")
		}, NodeTimeout(2*time.Minute))

		It("serves a certificate that chains to the solution CA, covers the ILB IP and lasts past the expiry budget", func(ctx SpecContext) {
			rep, err := probe.InspectTLS(ctx, tpVM, probe.TLSRequest{Addr: addr, CAPEM: res.CAPEM, MinDaysToExpiry: b.TLS.MinDaysToExpiry})
			Expect(err).NotTo(HaveOccurred())
			AddReportEntry(reports.EntryChecks, probe.Checks(rep.Checks))
			AddReportEntry("certificate", fmt.Sprintf("sha256 %s, %s, %s, %.0f days left", rep.LeafSHA256, rep.Version, rep.Cipher, rep.DaysToExpiry))
			Expect(rep.ServerName).To(Equal(res.Address.String()), "the SAN check is for the dialled IP")
			for _, c := range rep.Checks {
				Expect(c.Pass).To(BeTrue(), "%s: %s", c.Name, c.Reason)
			}
			Expect(rep.IPAddresses).To(ContainElement(res.Address.String()))
			Expect(rep.LeafSHA256).To(MatchRegexp(`^[0-9a-f]{64}$`))
		}, NodeTimeout(20*time.Second))

		It("accepts TLS 1.2 and 1.3 only: a handshake pinned to 1.0 or 1.1 is refused", Label(reports.LabelFailureMode), func(ctx SpecContext) {
			vs, err := probe.ProbeVersions(ctx, tpVM, addr, "", 0)
			Expect(err).NotTo(HaveOccurred())
			c := probe.VersionsCheck(vs, b.TLS.MinVersion)
			AddReportEntry(reports.EntryChecks, probe.Checks{c})
			Expect(c.Pass).To(BeTrue(), c.Reason)
			accepted := map[string]bool{}
			for _, v := range vs {
				accepted[v.Version] = v.Accepted
			}
			Expect(accepted).To(Equal(map[string]bool{"TLS 1.0": false, "TLS 1.1": false, "TLS 1.2": true, "TLS 1.3": true}))
		}, NodeTimeout(30*time.Second))

		It("meets the budgets from the third-party client: HTTP, TLS, versions, latency of /version and /api/v1/nodes, kubectl", Label(harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
			rep, err := probe.Run(ctx, tpVM, probe.Options{URL: res.Server, CAPEM: res.CAPEM, ServerName: res.TLSServerName, Token: res.Token,
				Kubeconfig: kc, Kubectl: tpVM.Kubectl, Budgets: b, Profile: profile(), Samples: 200})
			Expect(err).NotTo(HaveOccurred())
			AddReportEntry(reports.EntryProbe, rep)
			AddReportEntry("budget", probe.Verdicts(rep.Budget), ReportEntryVisibilityAlways)
			for _, c := range rep.Checks {
				Expect(c.Pass).To(BeTrue(), "%s: %s", c.Name, c.Reason)
			}
			Expect(rep.Budget).NotTo(BeEmpty())
			for _, v := range rep.Budget {
				Expect(v.Pass).To(BeTrue(), v.Text)
			}
			Expect(rep.Latency).To(HaveLen(2))
			Expect(rep.HTTP.Status).To(Equal(200))
			Expect(rep.HTTP.Timing.TLS).To(BeNumerically(">", 0))
			Expect(rep.Kubectl).To(HaveLen(len(probe.DefaultKubectlCalls)))
		}, NodeTimeout(2*time.Minute))

		It("reachgate probe at the third-party client prints one JSON report without the token and exits 0", Label(harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
			self, err := selfbin.Path(ctx, slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
			Expect(err).NotTo(HaveOccurred())
			placer := harness.Require[provider.FilePlacer](tpVM)
			caFile, err := placer.PlaceFile(ctx, "tls-ca.crt", res.CAPEM)
			Expect(err).NotTo(HaveOccurred())
			tokFile, err := placer.PlaceFile(ctx, "tls-token", []byte(res.Token))
			Expect(err).NotTo(HaveOccurred())
			out, err := tpVM.Run(ctx, self, "probe", "--url", res.Server, "--ca", caFile, "--token-file", tokFile,
				"--kubeconfig", kc, "--samples", "50", "--profile", profile())
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).NotTo(ContainSubstring(res.Token))
			var rep probe.Report
			Expect(json.Unmarshal([]byte(out), &rep)).To(Succeed(), out)
			Expect(rep.Pass).To(BeTrue())
			Expect(rep.Groups).To(ConsistOf(probe.Groups))
			Expect(rep.Kubectl[0].Output).To(ContainSubstring("Ready"))
		}, NodeTimeout(2*time.Minute))

		It("runs 1,000 sequential GET /version from the third-party client (probe overhead benchmark)", Label("bench", harness.QuietLabel), func(ctx SpecContext) {
			start := time.Now()
			pl, err := probe.Latency(ctx, tpVM, probe.HTTPSRequest{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token}, "/version", 1000)
			total := time.Since(start)
			Expect(err).NotTo(HaveOccurred())
			Expect(pl.Errors).To(BeZero(), pl.FirstError)
			AddReportEntry("bench: 1000 sequential GET /version", fmt.Sprintf("%.2f s in all (%.2f s for the 1000 requests; target < 3 s); p50 %v p95 %v p99 %v max %v",
				total.Seconds(), pl.Elapsed.Duration().Seconds(), pl.P50, pl.P95, pl.P99, pl.Max), ReportEntryVisibilityAlways)
		}, NodeTimeout(2*time.Minute))

		It("refuses an impostor upstream: a certificate from another CA gets 502, not the impostor's answer", Label(reports.LabelFailureMode), func(ctx SpecContext) {
			other, err := newAuthority("impostor CA")
			Expect(err).NotTo(HaveOccurred())
			ep := env.Cluster().PrivateEndpoint
			cert, err := other.issue(time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour), []net.IP{ep.AsSlice()}, "kubernetes.default", "kubernetes")
			Expect(err).NotTo(HaveOccurred())
			imp, err := impostor.Swap(ctx, env, cs, nginxPods, netip.AddrPortFrom(ep, 443), cert, 200, `{"impostor":true}`)
			if errors.Is(err, impostor.ErrUnsupported) {
				Skip(err.Error())
			}
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) {
				Expect(imp.Remove(ctx)).To(Succeed())
				// Back to the real API server for whatever runs next.
				Expect(impostor.RestartProxies(ctx, env, cs, nginxPods, proxyCheck(tpVM, addr))).To(Succeed())
			}, NodeTimeout(90*time.Second))
			Expect(impostor.RestartProxies(ctx, env, cs, nginxPods, proxyCheck(tpVM, addr))).To(Succeed())
			for range 4 { // both replicas
				r, err := probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: res.CAPEM, Token: res.Token, NoKeepAlive: true})
				Expect(err).NotTo(HaveOccurred())
				Expect(string(r.Body)).NotTo(ContainSubstring("impostor"))
				Expect(r.Status).To(Equal(http.StatusBadGateway))
			}
			AddReportEntry(reports.EntryChecks, probe.Checks{{Name: "upstream-verified", Pass: true,
				Reason: "with the API server swapped for a server holding a certificate from another CA, the proxy answered 502"}})
		}, NodeTimeout(3*time.Minute))
	})

	Context("seed ilb-proxy (the article's nginx.conf)", Ordered, Label("solution", "ilb-proxy", "seed", "nginx"), func() {
		var (
			env  provider.Environment
			cs   kubernetes.Interface
			res  *ilbproxy.Result
			tpVM provider.Host
			addr string
		)
		BeforeAll(func(ctx SpecContext) {
			env = harness.Env()
			cfg, err := harness.Require[provider.KubeAdmin](env).AdminConfig()
			Expect(err).NotTo(HaveOccurred())
			cs, err = kubernetes.NewForConfig(cfg)
			Expect(err).NotTo(HaveOccurred())
			log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
			harness.RequireSolution(env)
			res, err = ilbproxy.Apply(ctx, env, ilbproxy.Options{Variant: ilbproxy.Seed, Proxy: ilbproxy.Nginx, Log: log})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) { Expect(ilbproxy.Remove(ctx, env, ilbproxy.Options{Log: log})).To(Succeed()) }, NodeTimeout(90*time.Second))
			tpVM = harness.Actor(topology.RoleThirdPartyClient)
			addr = net.JoinHostPort(res.Address.String(), "443")
		}, NodeTimeout(2*time.Minute))

		It("passes an impostor's answer through: the upstream certificate is never verified (finding)", func(ctx SpecContext) {
			other, err := newAuthority("impostor CA")
			Expect(err).NotTo(HaveOccurred())
			ep := env.Cluster().PrivateEndpoint
			cert, err := other.issue(time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour), []net.IP{ep.AsSlice()}, "kubernetes.default")
			Expect(err).NotTo(HaveOccurred())
			imp, err := impostor.Swap(ctx, env, cs, nginxPods, netip.AddrPortFrom(ep, 443), cert, 200, `{"impostor":true}`)
			if errors.Is(err, impostor.ErrUnsupported) {
				Skip(err.Error())
			}
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func(ctx SpecContext) { Expect(imp.Remove(ctx)).To(Succeed()) })
			// The seed config keeps no upstream connections, but a restart makes sure.
			Expect(impostor.RestartProxies(ctx, env, cs, nginxPods, proxyCheck(tpVM, addr))).To(Succeed())
			status, body := seedGet(ctx, tpVM, res, "/version")
			Expect(status).To(Equal(200))
			Expect(body).To(ContainSubstring(`"impostor":true`))
			AddReportEntry(reports.EntryChecks, probe.Checks{{Name: "upstream-verified", Pass: false, Expected: true,
				Reason: "the proxy relayed the answer of a server holding a certificate from another CA (200 " + body + ")"}})
			AddReportEntry(reports.EntryFinding, reports.Finding{ID: "RG-TLS-UPSTREAM-UNVERIFIED", Severity: "high",
				Title:    "nginx does not verify the API server: any server at the private endpoint's address is trusted",
				Evidence: fmt.Sprintf("with %s:443 answered by a server whose certificate comes from another CA, GET %s/version through the proxy returned %d %s", ep, res.Server, status, body),
				Fix:      "proxy_ssl_verify on; proxy_ssl_trusted_certificate /etc/nginx/cluster-ca/ca.crt; proxy_ssl_name kubernetes.default; proxy_ssl_server_name on;"})
		}, NodeTimeout(3*time.Minute))

		It("records which TLS versions the article's ssl_protocols line gets from Debian's OpenSSL", func(ctx SpecContext) {
			vs, err := probe.ProbeVersions(ctx, tpVM, addr, "", 0)
			Expect(err).NotTo(HaveOccurred())
			c := probe.VersionsCheck(vs, tls.VersionTLS12)
			AddReportEntry(reports.EntryChecks, probe.Checks{c})
			accepted := map[string]bool{}
			for _, v := range vs {
				accepted[v.Version] = v.Accepted
			}
			Expect(accepted).To(HaveKeyWithValue("TLS 1.2", true))
			if !c.Pass {
				AddReportEntry(reports.EntryFinding, reports.Finding{ID: "RG-TLS-LEGACY-VERSIONS", Severity: "medium",
					Title: "the proxy accepts TLS versions older than 1.2", Evidence: c.Reason, Fix: "ssl_protocols TLSv1.2 TLSv1.3;"})
			}
		}, NodeTimeout(30*time.Second))
	})

	// Each TLS check must be able to fail: tiny Go TLS servers at the third-party client, one
	// defect each, probed from the third-party client with real handshakes. A good server is the control.
	Context("each check can fail", Label("negative"), func() {
		type tlsCase struct {
			cert       func(good, other *authority, ip net.IP) (tls.Certificate, error)
			minVersion uint16
			failing    string // the check that must fail; "" for the control
			reason     string
		}
		year := 365 * 24 * time.Hour
		DescribeTable("a server with one defect",
			func(ctx SpecContext, name string, tc tlsCase) {
				env := harness.Env()
				tpVM := harness.Actor(topology.RoleThirdPartyClient)
				lis := harness.Require[provider.Listener](tpVM)
				AddReportEntry(reports.EntryLabels, reports.Labels{Solution: "tls-check-self-test", Variant: name})
				ip := net.IP(env.Topology().Host(tpVM.Name()).IP.AsSlice())
				good, err := newAuthority("solution CA")
				Expect(err).NotTo(HaveOccurred())
				other, err := newAuthority("unknown CA")
				Expect(err).NotTo(HaveOccurred())
				cert, err := tc.cert(good, other, ip)
				Expect(err).NotTo(HaveOccurred())
				ln, err := lis.Listen(ctx, "tcp", net.JoinHostPort(ip.String(), "0"))
				Expect(err).NotTo(HaveOccurred())
				stop := impostor.Serve(ln, cert, tc.minVersion, 0, 200, `{"ok":true}`)
				DeferCleanup(stop)
				addr := ln.Addr().String()
				rep, err := probe.InspectTLS(ctx, tpVM, probe.TLSRequest{Addr: addr, CAPEM: good.PEM, MinDaysToExpiry: 30})
				Expect(err).NotTo(HaveOccurred())
				vs, err := probe.ProbeVersions(ctx, tpVM, addr, "", 0)
				Expect(err).NotTo(HaveOccurred())
				checks := append(rep.Checks, probe.VersionsCheck(vs, tls.VersionTLS12))
				AddReportEntry("checks", probe.Checks(checks))
				for _, c := range checks {
					if c.Name == tc.failing {
						Expect(c.Pass).To(BeFalse(), "%s must fail: %s", c.Name, c.Reason)
						Expect(c.Reason).To(ContainSubstring(tc.reason))
					} else {
						Expect(c.Pass).To(BeTrue(), "%s must pass (only %q is broken): %s", c.Name, tc.failing, c.Reason)
					}
				}
			},
			Entry("control: valid certificate, TLS >= 1.2", "control", tlsCase{
				cert: func(g, _ *authority, ip net.IP) (tls.Certificate, error) {
					return g.issue(time.Now().Add(-time.Hour), time.Now().Add(year), []net.IP{ip})
				}, minVersion: tls.VersionTLS12}),
			Entry("expired certificate", "expired", tlsCase{
				cert: func(g, _ *authority, ip net.IP) (tls.Certificate, error) {
					return g.issue(time.Now().Add(-90*24*time.Hour), time.Now().Add(-24*time.Hour), []net.IP{ip})
				}, minVersion: tls.VersionTLS12, failing: probe.CheckExpiry, reason: "expired on"}),
			Entry("certificate expiring inside the budget", "expires-soon", tlsCase{
				cert: func(g, _ *authority, ip net.IP) (tls.Certificate, error) {
					return g.issue(time.Now().Add(-time.Hour), time.Now().Add(7*24*time.Hour), []net.IP{ip})
				}, minVersion: tls.VersionTLS12, failing: probe.CheckExpiry, reason: "budget >= 30 days"}),
			Entry("wrong SAN", "wrong-san", tlsCase{
				cert: func(g, _ *authority, _ net.IP) (tls.Certificate, error) {
					return g.issue(time.Now().Add(-time.Hour), time.Now().Add(year), []net.IP{net.ParseIP("198.51.100.99")}, "impostor.example")
				}, minVersion: tls.VersionTLS12, failing: probe.CheckSAN, reason: "does not cover"}),
			Entry("unknown CA", "unknown-ca", tlsCase{
				cert: func(_, o *authority, ip net.IP) (tls.Certificate, error) {
					return o.issue(time.Now().Add(-time.Hour), time.Now().Add(year), []net.IP{ip})
				}, minVersion: tls.VersionTLS12, failing: probe.CheckChain, reason: "unknown authority"}),
			Entry("TLS 1.0 accepted", "tls10", tlsCase{
				cert: func(g, _ *authority, ip net.IP) (tls.Certificate, error) {
					return g.issue(time.Now().Add(-time.Hour), time.Now().Add(year), []net.IP{ip})
				}, minVersion: tls.VersionTLS10, failing: probe.CheckVersions, reason: "accepts TLS 1.0, TLS 1.1"}),
		)
	})
})

// seedGet sends GET path through the seed proxy. The seed certificate has only a CN, which
// today's clients reject for the name; the chain is still checked against server.pem, so
// the request reaches the proxy that is under test here.
func seedGet(ctx context.Context, tpVM provider.Host, res *ilbproxy.Result, path string) (int, string) {
	pool := x509.NewCertPool()
	Expect(pool.AppendCertsFromPEM(res.ServerPEM)).To(BeTrue())
	tr := &http.Transport{DialContext: tpVM.DialContext, DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified below; the name cannot be (CN only)
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool})
			return err
		}}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.Server+path, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := client.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}
