package bgpexport

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reachgate/framework/cloud"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/gate"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/bgpexport"
	"reachgate/framework/topology"
	"reachgate/reports"
	"reachgate/suites/harness"
	"reachgate/suites/internal/footprint"
)

// The article's Solution 2: the third-party VM reaches the private endpoint directly, over an
// HA VPN whose Cloud Router announces the master range, with the GKE peering exporting the
// learned third-party range to the master VPC.
var _ = Describe("bgp-export", Label("solution", "bgp-export", "hardened"), Ordered, func() {
	var (
		env      provider.Environment
		vc       provider.VPNCloud
		faults   provider.TunnelFaults
		res      *bgpexport.Result
		tpVM     provider.Host
		kc       string
		endpoint netip.AddrPort
		info     cloud.ClusterDescription
	)
	BeforeAll(func(ctx SpecContext) {
		env = harness.Env()
		c := harness.RequireSolution(env)
		vc = harness.Require[provider.VPNCloud](c)
		var err error
		info, err = c.Cluster(ctx)
		Expect(err).NotTo(HaveOccurred())
		endpoint = netip.AddrPortFrom(info.PrivateEndpoint, 443)
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		// The baseline first: nothing joins the clouds yet.
		Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
		log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		footprint.OfApply(ctx, env, func() []string {
			res, err = bgpexport.Apply(ctx, env, bgpexport.Options{Variant: bgpexport.Hardened, Log: log})
			Expect(err).NotTo(HaveOccurred())
			return res.CloudFootprint()
		})
		AddReportEntry("apply seconds", fmt.Sprintf("%.2f", res.Seconds))
		DeferCleanup(func(ctx SpecContext) {
			Expect(bgpexport.Remove(ctx, env, bgpexport.Options{Log: log})).To(Succeed())
			// Nothing of the sessions stays on the Cloud Router (a PATCH cannot clear a list).
			rt, err := harness.Require[provider.VPNCloud](harness.RequireSolution(env)).GetRouter(ctx, res.Plan.Network, res.Plan.Router)
			Expect(err).NotTo(HaveOccurred())
			Expect(rt.BgpPeers).To(BeEmpty(), "BGP peers left after Remove")
			Expect(rt.Interfaces).To(BeEmpty(), "router interfaces left after Remove")
			// Remove returns the environment to the baseline: the client times out again, and
			// the model (where the provider has one) says why.
			Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
			harness.ModelSays(tpVM.Name(), endpoint, false, "no peering, interconnect or VPN brings that range")
		}, NodeTimeout(60*time.Second))
		kc, err = harness.Require[provider.FilePlacer](tpVM).PlaceFile(ctx, "bgp-export.kubeconfig", res.Kubeconfig)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(2*time.Minute))

	routerStatus := func(ctx context.Context, network, router string) cloud.RouterStatus {
		st, err := vc.GetRouterStatus(ctx, network, router)
		Expect(err).NotTo(HaveOccurred())
		return st
	}
	get := func(ctx context.Context) error {
		return harness.VersionAnswered(ctx, tpVM, probe.HTTPSRequest{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token})
	}

	It("establishes 4 of 4 BGP sessions over 4 tunnels, with VPN redundancy met", func(ctx SpecContext) {
		st := routerStatus(ctx, res.Plan.Network, res.Plan.Router)
		Expect(st.BGPPeerStatus).To(HaveLen(4))
		for _, p := range st.BGPPeerStatus {
			Expect(p.Status).To(Equal("UP"), "peer %s", p.Name)
			Expect(p.State).To(Equal("Established"), "peer %s", p.Name)
		}
		Eventually(func(ctx context.Context) string {
			gs, err := vc.GetVpnGatewayStatus(ctx, res.Plan.Gateway)
			Expect(err).NotTo(HaveOccurred())
			return gs.Redundancy
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Equal("CONNECTION_REDUNDANCY_MET"))
	}, NodeTimeout(20*time.Second))

	It("teaches the third-party router the master range over all four sessions", func(ctx SpecContext) {
		st := routerStatus(ctx, res.Plan.PeerNetwork, res.Plan.PeerRouter)
		r, ok := st.Route(info.MasterCIDR.String())
		Expect(ok).To(BeTrue(), "best routes: %+v", st.BestRoutes)
		Expect(r.NextHops).To(HaveLen(4))
	}, NodeTimeout(10*time.Second))

	It("gives the master VPC the third-party range as an imported dynamic peering route", func(ctx SpecContext) {
		Expect(res.Plan.PeerRanges).NotTo(BeEmpty())
		routes, err := vc.ListPeeringRoutes(ctx, env.Topology().Cluster.MasterVPC, info.PeeringName, cloud.Incoming)
		Expect(err).NotTo(HaveOccurred())
		out, err := vc.ListPeeringRoutes(ctx, res.Plan.Network, info.PeeringName, cloud.Outgoing)
		Expect(err).NotTo(HaveOccurred())
		for _, r := range res.Plan.PeerRanges {
			Expect(routes).To(ContainElement(cloud.PeeringRoute{DestRange: r.String(), Type: "DYNAMIC_PEERING_ROUTE",
				Imported: true, NextHopRegion: res.Plan.Region, Priority: 100}))
			Expect(out).To(ContainElement(HaveField("DestRange", r.String())))
		}
	}, NodeTimeout(10*time.Second))

	It("answers GET /version at the private endpoint from the third-party client, verified with the cluster CA", func(ctx SpecContext) {
		harness.ExpectVersion(ctx, tpVM, probe.HTTPSRequest{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token}, endpoint)
	}, NodeTimeout(20*time.Second))

	It("runs kubectl get nodes at the third-party client: every node Ready", func(ctx SpecContext) {
		harness.ExpectNodesReady(ctx, tpVM, kc, env.Topology().Cluster.Nodes)
	}, NodeTimeout(30*time.Second))

	It("runs kubectl cluster-info at the third-party client: control plane at the private endpoint", func(ctx SpecContext) {
		harness.ExpectClusterInfo(ctx, tpVM, kc, "https://"+info.PrivateEndpoint.String())
	}, NodeTimeout(30*time.Second))

	It("meets the probe's checks and budgets from the third-party client: TLS chain, SAN, expiry, versions, latency, kubectl", Label(harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		rep := harness.ExpectProbePasses(ctx, tpVM, probe.Options{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token, Kubeconfig: kc})
		// The API server's own certificate: the private endpoint is a SAN, TLS 1.2+ only.
		Expect(rep.TLS.IPAddresses).To(ContainElement(info.PrivateEndpoint.String()))
	}, NodeTimeout(2*time.Minute))

	It("emulates the WAN on the tunnels: cross-region makes the third-party client's round trip 30 ms (within 15 %)", Label(harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		wan := harness.Require[provider.WANEmulator](env)
		Expect(wan.SetImpairment(ctx, res.Plan.Link, "cross-region")).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(wan.SetImpairment(ctx, res.Plan.Link, "none")).To(Succeed()) })
		var ds []time.Duration
		for range 15 {
			r := probe.TCP(ctx, tpVM, endpoint.String(), 3*time.Second)
			Expect(r.Outcome).To(Equal(probe.Connected))
			ds = append(ds, r.Duration)
		}
		slices.Sort(ds)
		AddReportEntry("wan self-check", fmt.Sprintf("tunnels cross-region: configured RTT 30ms, measured median %v", ds[len(ds)/2].Round(10*time.Microsecond)))
		Expect(ds[len(ds)/2]).To(BeNumerically("~", 30*time.Millisecond, 4500*time.Microsecond))
	}, NodeTimeout(60*time.Second))

	// Each negative spec changes one thing, checks that the third-party client times out and that the model names
	// the reason, then puts it back and checks it is answered again.
	negative := func(ctx context.Context, change, restore func(context.Context) error, reason string) {
		harness.ProveFailureMode(ctx, tpVM, endpoint, change, restore, reason, get)
	}

	It("times out when the GKE peering does not export custom routes (the master VPC cannot answer)", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		set := func(export bool) func(context.Context) error {
			return func(ctx context.Context) error {
				p, err := vc.GetPeering(ctx, res.Plan.Network, info.PeeringName)
				if err != nil {
					return err
				}
				p.ExportCustomRoutes = export
				return vc.UpdatePeering(ctx, p)
			}
		}
		negative(ctx, set(false), set(true), "exportCustomRoutes is false on "+res.Plan.Network+"'s side")
	}, NodeTimeout(60*time.Second))

	It("gate check names a lost exportCustomRoutes and the flow it broke, and passes once it is back", Label("gate", harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		base, err := gate.Take(ctx, env, gate.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(base.Flows).NotTo(BeEmpty())
		for _, f := range base.Flows {
			if f.From != tpVM.Name() {
				continue // the in-VPC client is in another region than the endpoint
			}
			Expect(f.Outcome).To(Equal(probe.Connected), "baseline flow %s -> %s", f.From, f.To)
			Expect(f.Certificate).NotTo(BeNil(), "the endpoint's certificate is in the snapshot")
			Expect(f.Certificate.Verified).To(BeTrue(), f.Certificate.Problem)
		}
		set := func(ctx context.Context, export bool) {
			p, err := vc.GetPeering(ctx, res.Plan.Network, info.PeeringName)
			Expect(err).NotTo(HaveOccurred())
			p.ExportCustomRoutes = export
			Expect(vc.UpdatePeering(ctx, p)).To(Succeed())
		}
		set(ctx, false)
		DeferCleanup(func(ctx SpecContext) { set(ctx, true) })
		cur, err := gate.Take(ctx, env, gate.Options{Timeout: time.Second})
		Expect(err).NotTo(HaveOccurred())
		r, err := gate.Compare(base, cur)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("gate check", r.Text())
		Expect(r.Regression).To(BeTrue())
		Expect(r.Changes).To(ContainElement(And(HaveField("What", "peering "+info.PeeringName+" (network "+res.Plan.Network+"): exportCustomRoutes"),
			HaveField("Before", "true"), HaveField("After", "false"))))
		Expect(r.Flows).To(ContainElement(And(HaveField("Before", probe.Connected), HaveField("After", probe.Timeout), HaveField("Regression", true))))
		set(ctx, true)
		Eventually(func(ctx context.Context) bool {
			cur, err := gate.Take(ctx, env, gate.Options{Timeout: time.Second})
			if err != nil {
				return false
			}
			r, err := gate.Compare(base, cur)
			return err == nil && !r.Regression && len(r.Changes) == 0
		}).WithContext(ctx).WithTimeout(15*time.Second).Should(BeTrue(), "restored, the check passes with nothing changed")
	}, NodeTimeout(60*time.Second))

	It("with the solution applied, reads back, through its GCP API, into a topology that gives the same verdict for every host pair and port (gcp import)", Label("gate", "import"), func(ctx SpecContext) {
		harness.Require[provider.GCPAPI](env)
		harness.Require[provider.Explainer](env)
		r, err := gate.RoundTrip(ctx, env)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("import round trip", fmt.Sprintf("%d flows compared, %d reachable; notes: %v", r.Compared, r.Reachable, r.Notes))
		Expect(r.Mismatches).To(BeEmpty())
		Expect(r.Reachable).To(And(BeNumerically(">", 0), BeNumerically("<", r.Compared)), "the comparison must tell reachable from unreachable")
	}, NodeTimeout(30*time.Second))

	It("gate predict on each example plan gives the verdict that making the same change with gcloud then gives", Label("gate", "gcloud"), func(ctx SpecContext) {
		checkPredictions(ctx, env, tpVM, res, info, vc)
	}, NodeTimeout(5*time.Minute))

	It("times out when the Cloud Router advertisement is DEFAULT (the master range is not announced)", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		set := func(a topology.Advertisement) func(context.Context) error {
			return func(ctx context.Context) error {
				return vc.PatchRouter(ctx, cloud.RouterPatch{Network: res.Plan.Network, Router: res.Plan.Router, Advertise: &a})
			}
		}
		custom := topology.Advertisement{Mode: "CUSTOM", Groups: []string{"ALL_SUBNETS"}, Ranges: []netip.Prefix{info.MasterCIDR}}
		negative(ctx, set(topology.Advertisement{Mode: "DEFAULT"}), set(custom), "DEFAULT advertisement announces")
	}, NodeTimeout(60*time.Second))

	It("times out when the third-party range is not in the master authorized networks", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		before, err := vc.GetAuthorizedNetworks(ctx)
		Expect(err).NotTo(HaveOccurred())
		without := before
		without.CIDRBlocks = slices.DeleteFunc(slices.Clone(before.CIDRBlocks), func(p netip.Prefix) bool { return slices.Contains(res.Plan.PeerRanges, p) })
		negative(ctx, func(ctx context.Context) error { return vc.SetAuthorizedNetworks(ctx, without) },
			func(ctx context.Context) error { return vc.SetAuthorizedNetworks(ctx, before) }, "not in the master authorized networks")
	}, NodeTimeout(60*time.Second))

	// failover cuts victim's underlay 2 s into a 10 s continuous probe from the third-party client, and says
	// how long the Cloud Router took to see that tunnel's session DOWN.
	failover := func(ctx context.Context, victim string) (probe.LossWindow, time.Duration) {
		peer := res.Plan.Peers[slices.Index(res.Plan.Tunnels, victim)].Name
		cut := make(chan time.Time, 1)
		down := make(chan time.Duration, 1)
		go func() {
			defer GinkgoRecover()
			time.Sleep(2 * time.Second)
			at := time.Now()
			Expect(faults.SetTunnelUnderlay(ctx, victim, false)).To(Succeed())
			cut <- at
			for time.Since(at) < 8*time.Second {
				if p, ok := routerStatus(ctx, res.Plan.Network, res.Plan.Router).Peer(peer); ok && p.Status == "DOWN" {
					down <- time.Since(at)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			down <- -1
		}()
		samples := probe.Continuous(ctx, 20, 10*time.Second, get)
		var at time.Time
		Eventually(cut).Should(Receive(&at))
		var detected time.Duration
		Eventually(down).Should(Receive(&detected))
		return probe.Window(samples, at), detected
	}

	It("fails over when the tunnel carrying the flow is cut: loss no longer than the hold time plus 1 s", func(ctx SpecContext) {
		faults = harness.Require[provider.TunnelFaults](env)
		carrying, err := faults.TunnelsCarrying(ctx, tpVM.Name(), info.PrivateEndpoint)
		Expect(err).NotTo(HaveOccurred())
		Expect(carrying).NotTo(BeEmpty())
		victim := carrying[0]
		DeferCleanup(func(ctx SpecContext) { Expect(faults.SetTunnelUnderlay(ctx, victim, true)).To(Succeed()) })
		w, detected := failover(ctx, victim)
		AddReportEntry("failover", fmt.Sprintf("cut %s (carrying %v): session DOWN %v after the cut; %d requests at %.1f/s, %d failed, last failure %v after the cut",
			victim, carrying, detected.Round(time.Millisecond), w.Requests, w.Rate, w.Failures, w.LastFailure.Round(time.Millisecond)))
		// The session goes DOWN within the hold time (3 s; the status is polled every 50 ms).
		Expect(detected).To(BeNumerically(">", 0), "the session never went DOWN")
		Expect(detected).To(BeNumerically("<=", 3*time.Second+500*time.Millisecond))
		Expect(w.LastFailure).To(BeNumerically("<=", 3*time.Second+time.Second), "hold time 3 s + 1 s")
		Expect(w.RecoveredAfter).To(BeTrue(), "requests after the last failure must all succeed")
		// That session is down and its routes are gone: the master range has 3 next hops.
		st := routerStatus(ctx, res.Plan.Network, res.Plan.Router)
		Expect(st.Up()).To(Equal(3))
		r, ok := routerStatus(ctx, res.Plan.PeerNetwork, res.Plan.PeerRouter).Route(info.MasterCIDR.String())
		Expect(ok).To(BeTrue())
		Expect(r.NextHops).To(HaveLen(3))
		// Restored, all four sessions are back within 15 s.
		start := time.Now()
		Expect(faults.SetTunnelUnderlay(ctx, victim, true)).To(Succeed())
		Eventually(func(ctx context.Context) int { return routerStatus(ctx, res.Plan.Network, res.Plan.Router).Up() }).
			WithContext(ctx).WithTimeout(15 * time.Second).WithPolling(100 * time.Millisecond).Should(Equal(4))
		AddReportEntry("reconvergence", fmt.Sprintf("4/4 sessions %v after restoring %s", time.Since(start).Round(time.Millisecond), victim))
	}, NodeTimeout(60*time.Second))

	It("loses nothing when a tunnel not carrying the flow is cut", func(ctx SpecContext) {
		faults = harness.Require[provider.TunnelFaults](env)
		carrying, err := faults.TunnelsCarrying(ctx, tpVM.Name(), info.PrivateEndpoint)
		Expect(err).NotTo(HaveOccurred())
		idle := slices.DeleteFunc(slices.Clone(res.Plan.Tunnels), func(t string) bool { return slices.Contains(carrying, t) })
		Expect(idle).NotTo(BeEmpty())
		victim := idle[0]
		DeferCleanup(func(ctx SpecContext) {
			Expect(faults.SetTunnelUnderlay(ctx, victim, true)).To(Succeed())
			Eventually(func(ctx context.Context) int { return routerStatus(ctx, res.Plan.Network, res.Plan.Router).Up() }).
				WithContext(ctx).WithTimeout(15 * time.Second).Should(Equal(4))
		})
		w, detected := failover(ctx, victim)
		AddReportEntry("failover", fmt.Sprintf("cut %s (carrying %v): session DOWN %v after the cut; %d requests, %d failed",
			victim, carrying, detected.Round(time.Millisecond), w.Requests, w.Failures))
		Expect(w.Failures).To(BeZero())
	}, NodeTimeout(60*time.Second))

	It("is unreachable with all four tunnels cut, and the model still explains the path it expects", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		faults = harness.Require[provider.TunnelFaults](env)
		for _, t := range res.Plan.Tunnels {
			Expect(faults.SetTunnelUnderlay(ctx, t, false)).To(Succeed())
		}
		DeferCleanup(func(ctx SpecContext) {
			for _, t := range res.Plan.Tunnels {
				Expect(faults.SetTunnelUnderlay(ctx, t, true)).To(Succeed())
			}
			Eventually(func(ctx context.Context) int { return routerStatus(ctx, res.Plan.Network, res.Plan.Router).Up() }).
				WithContext(ctx).WithTimeout(20 * time.Second).Should(Equal(4))
		})
		Eventually(func(ctx context.Context) int { return routerStatus(ctx, res.Plan.Network, res.Plan.Router).Up() }).
			WithContext(ctx).WithTimeout(10 * time.Second).Should(Equal(0))
		Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
	}, NodeTimeout(60*time.Second))
})

// The article's steps as written: they bring the sessions up and set a flag that is not
// needed, but leave the third-party range out of the enforced authorized networks.
var _ = Describe("bgp-export seed (the article's steps)", Label("solution", "bgp-export", "seed"), Ordered, func() {
	It("stands up, notes the unneeded import flag, and is refused by the authorized networks", func(ctx SpecContext) {
		env := harness.Env()
		harness.Require[provider.VPNCloud](harness.RequireSolution(env))
		log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		res, err := bgpexport.Apply(ctx, env, bgpexport.Options{Variant: bgpexport.Seed, Log: log})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(bgpexport.Remove(ctx, env, bgpexport.Options{Log: log})).To(Succeed()) })
		Expect(res.Notes).To(ContainElement(ContainSubstring("importCustomRoutes set on")))
		tpVM := harness.Actor(topology.RoleThirdPartyClient)
		ep := netip.AddrPortFrom(env.Cluster().PrivateEndpoint, 443)
		Expect(probe.TCP(ctx, tpVM, ep.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
		harness.ModelSays(tpVM.Name(), ep, false, "not in the master authorized networks")
	}, NodeTimeout(2*time.Minute))
})
