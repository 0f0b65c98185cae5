package latency

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/fixtures"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/ilbproxy"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

// The interconnect between the clouds is where WAN latency lives: these specs emulate it
// (netem is absent here, so the lab's own delay element does), prove the emulation, and hold
// the API's latency from the third-party client against the budgets of each profile.
var _ = Describe("latency over an emulated WAN", Label("latency", "solution", "ilb-proxy", "hardened", "nginx", harness.QuietLabel), Ordered, func() {
	var (
		link    string
		env     provider.Environment
		wan     provider.WANEmulator
		tpVM    provider.Host
		res     *ilbproxy.Result
		budgets *probe.Budgets
	)
	BeforeAll(func(ctx SpecContext) {
		env = harness.Env()
		wan = harness.Require[provider.WANEmulator](env)
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		up := env.Topology().Uplink(env.Topology().Host(tpVM.Name()).VPC)
		Expect(up).NotTo(BeNil(), "no interconnect or VPN joins %s's VPC to GCP", tpVM.Name())
		link = up.Name
		var err error
		budgets, err = probe.ParseBudgets("fixtures/budgets.yaml", fixtures.Budgets())
		Expect(err).NotTo(HaveOccurred())
		log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		harness.RequireSolution(env)
		res, err = ilbproxy.Apply(ctx, env, ilbproxy.Options{Variant: ilbproxy.Hardened, Proxy: ilbproxy.Nginx, Log: log})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			Expect(wan.SetImpairment(ctx, link, "none")).To(Succeed())
			Expect(ilbproxy.Remove(ctx, env, ilbproxy.Options{Log: log})).To(Succeed())
		}, NodeTimeout(90*time.Second))
	}, NodeTimeout(2*time.Minute))

	// rtt is the median TCP handshake time from the third-party client to a GKE node (one round trip).
	rtt := func(ctx context.Context, n int) time.Duration {
		node := env.Topology().Host(env.Topology().Cluster.Nodes[0])
		addr := net.JoinHostPort(node.IP.String(), "22")
		ln, err := mustListener(ctx, env, node.Name, addr)
		Expect(err).NotTo(HaveOccurred())
		defer ln.Close()
		var ds []time.Duration
		for range n {
			r := probe.TCP(ctx, tpVM, addr, 3*time.Second)
			Expect(r.Outcome).To(Equal(probe.Connected))
			ds = append(ds, r.Duration)
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}

	for _, tc := range []struct {
		profile string
		rtt     time.Duration
	}{{"cross-region", 30 * time.Millisecond}, {"intercontinental", 150 * time.Millisecond}} {
		It("emulates "+tc.profile+": the measured RTT is within 15 % of the profile's", func(ctx SpecContext) {
			Expect(wan.SetImpairment(ctx, link, tc.profile)).To(Succeed())
			got := rtt(ctx, 15)
			AddReportEntry("wan self-check", fmt.Sprintf("profile %s: configured RTT %v, measured median %v", tc.profile, tc.rtt, got.Round(10*time.Microsecond)))
			Expect(got).To(BeNumerically("~", tc.rtt, tc.rtt*15/100))
		}, NodeTimeout(60*time.Second))
	}

	It("keeps GET /version within the intercontinental budget, with p95 near the RTT", func(ctx SpecContext) {
		Expect(wan.SetImpairment(ctx, link, "intercontinental")).To(Succeed())
		pl, err := probe.Latency(ctx, tpVM, probe.HTTPSRequest{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token}, "/version", 40)
		Expect(err).NotTo(HaveOccurred())
		verdicts, err := budgets.Evaluate("intercontinental", probe.Measured{Latency: []probe.PathLatency{pl}})
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("reachgate.probe", probe.Report{URL: res.Server, Profile: "intercontinental", Latency: []probe.PathLatency{pl}, Budget: verdicts,
			Pass: !slices.ContainsFunc(verdicts, func(v probe.Verdict) bool { return !v.Pass })})
		for _, v := range verdicts {
			AddReportEntry("budget", v.Text)
			Expect(v.Pass).To(BeTrue(), v.Text)
		}
		// One kept-alive request costs one round trip: p95 is the RTT plus the work behind it.
		Expect(float64(pl.P95)).To(BeNumerically(">=", 150*0.85))
		Expect(float64(pl.P95)).To(BeNumerically("<=", 150*2+20))
		// The same measurement misses a budget set below the RTT: the budget can fail.
		tight, err := probe.ParseBudgets("tight.yaml", []byte(tightBudgets))
		Expect(err).NotTo(HaveOccurred())
		verdicts, err = tight.Evaluate("intercontinental", probe.Measured{Latency: []probe.PathLatency{pl}})
		Expect(err).NotTo(HaveOccurred())
		failed := slices.IndexFunc(verdicts, func(v probe.Verdict) bool { return !v.Pass })
		Expect(failed).To(BeNumerically(">=", 0), "a budget below the RTT must fail: %+v", verdicts)
		AddReportEntry("budget below the RTT", verdicts[failed].Text)
	}, NodeTimeout(90*time.Second))
})

// tightBudgets allows p95 GET /version 100 ms on a 150 ms RTT profile: it must fail.
const tightBudgets = `apiVersion: reachgate.dev/v1alpha1
kind: Budgets
profiles:
  - name: intercontinental
    rttMs: 150
latency:
  - path: /version
    quantile: p95
    rttFactor: 0
    plusMs: 100
    maxErrors: 0
tls:
  minVersion: "1.2"
  minDaysToExpiry: 30
`

// mustListener accepts and closes connections at a host so TCP handshakes complete.
func mustListener(ctx context.Context, env provider.Environment, host, addr string) (net.Listener, error) {
	h, err := env.Host(host)
	if err != nil {
		return nil, err
	}
	ln, err := harness.Require[provider.Listener](h).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln, nil
}
