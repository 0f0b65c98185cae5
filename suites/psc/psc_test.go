package psc

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/cloud"
	"reachgate/framework/gate"
	"reachgate/framework/pki"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/pscendpoint"
	"reachgate/framework/topology"
	"reachgate/reports"
	"reachgate/suites/harness"
	"reachgate/suites/internal/footprint"
)

// The control plane's Private Service Connect endpoint, from the third-party VM.
var _ = Describe("psc-endpoint", Label("solution", "psc-endpoint"), Ordered, func() {
	var (
		env      provider.Environment
		cl       provider.Cloud
		ec       provider.EndpointCloud
		tpVM     provider.Host
		info     cloud.ClusterDescription
		plan     pscendpoint.Plan
		endpoint netip.AddrPort
		res      *pscendpoint.Result
		kc       string
		// before is the router's advertisement before Apply.
		before topology.Advertisement
	)
	endpointRange := func() netip.Prefix { return netip.MustParsePrefix(plan.EndpointRange) }
	// baselineReason is what the model names first for the baseline: the missing announcement,
	// or else the region without global access.
	baselineReason := func() string {
		if !pscendpoint.Announces(before, plan.Network, info.Network, endpointRange()) {
			return "does not announce"
		}
		return "control plane global access is off"
	}

	BeforeAll(func(ctx SpecContext) {
		env = harness.Env()
		cl = harness.RequireSolution(env)
		ec = harness.Require[provider.EndpointCloud](cl)
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		var err error
		plan, info, err = pscendpoint.Survey(ctx, env.Topology(), cl, ec)
		Expect(err).NotTo(HaveOccurred())
		endpoint = netip.AddrPortFrom(info.PrivateEndpoint, 443)
		rt, err := ec.GetRouter(ctx, plan.Network, plan.Router)
		Expect(err).NotTo(HaveOccurred())
		before = rt.Advertise
		AddReportEntry("path", fmt.Sprintf("%s (%s) enters GCP at %s/%s in %s; endpoint %s in %s (%s)", plan.Client, plan.Source,
			plan.Network, plan.Router, plan.RouterRegion, info.PrivateEndpoint, plan.EndpointRange, plan.EndpointRegion))
		// The baseline as GKE behaves: no peering stands in the way, yet the endpoint does not
		// answer, and the model names the missing piece.
		Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
		harness.ModelSays(tpVM.Name(), endpoint, false, baselineReason())

		log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		footprint.OfApply(ctx, env, func() []string {
			res, err = pscendpoint.Apply(ctx, env, pscendpoint.Options{Log: log})
			Expect(err).NotTo(HaveOccurred())
			return res.CloudFootprint()
		})
		AddReportEntry("apply seconds", fmt.Sprintf("%.2f", res.Seconds))
		AddReportEntry("cloud changes", fmt.Sprintf("%d", res.Plan.Changes.Count()))
		Expect(res.Plan.Changes.Count()).To(BeNumerically(">", 0), "the baseline is unreachable, so Apply must change something")
		DeferCleanup(func(ctx SpecContext) {
			Expect(pscendpoint.Remove(ctx, env, pscendpoint.Options{Log: log})).To(Succeed())
			// Remove restores exactly what Apply changed.
			rt, err := ec.GetRouter(ctx, plan.Network, plan.Router)
			Expect(err).NotTo(HaveOccurred())
			Expect(rt.Advertise).To(Equal(before), "Remove restores the router's advertisement")
			d, err := cl.Cluster(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.MasterGlobalAccess).To(Equal(info.MasterGlobalAccess), "Remove restores control plane global access")
			Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
			harness.ModelSays(tpVM.Name(), endpoint, false, baselineReason())
		}, NodeTimeout(60*time.Second))
		kc, err = harness.Require[provider.FilePlacer](tpVM).PlaceFile(ctx, "psc-endpoint.kubeconfig", res.Kubeconfig)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(2*time.Minute))

	get := func(ctx context.Context) error {
		return harness.VersionAnswered(ctx, tpVM, probe.HTTPSRequest{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token})
	}

	It("answers GET /version at the endpoint from the third-party client, verified with the cluster CA", func(ctx SpecContext) {
		harness.ExpectVersion(ctx, tpVM, probe.HTTPSRequest{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token}, endpoint)
	}, NodeTimeout(20*time.Second))

	It("runs kubectl get nodes at the third-party client: every node Ready", func(ctx SpecContext) {
		harness.ExpectNodesReady(ctx, tpVM, kc, env.Topology().Cluster.Nodes)
	}, NodeTimeout(30*time.Second))

	It("runs kubectl cluster-info at the third-party client: control plane at the endpoint", func(ctx SpecContext) {
		harness.ExpectClusterInfo(ctx, tpVM, kc, res.Server)
	}, NodeTimeout(30*time.Second))

	It("fails the TLS handshake for a client that trusts another CA", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		other, err := pki.NewCA("not the cluster CA", time.Hour)
		Expect(err).NotTo(HaveOccurred())
		_, err = probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: other.CertPEM, Timeout: 5 * time.Second})
		Expect(err).To(MatchError(ContainSubstring("certificate signed by unknown authority")))
	}, NodeTimeout(20*time.Second))

	It("meets the probe's checks and budgets from the third-party client: TLS chain, SAN, expiry, versions, latency, kubectl", Label(harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		rep := harness.ExpectProbePasses(ctx, tpVM, probe.Options{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token, Kubeconfig: kc})
		// The API server's own certificate names the endpoint address the client dials.
		Expect(rep.TLS.IPAddresses).To(ContainElement(info.PrivateEndpoint.String()))
	}, NodeTimeout(2*time.Minute))

	// negative makes one change, proves the client times out and the model names reason, then
	// restores it and proves the endpoint answers again.
	negative := func(ctx context.Context, change, restore func(context.Context) error, reason string) {
		harness.ProveFailureMode(ctx, tpVM, endpoint, change, restore, reason, get)
	}

	It("times out when control plane global access is off and the client enters GCP in another region", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		if plan.RouterRegion == plan.EndpointRegion {
			Skip(fmt.Sprintf("the third-party traffic enters GCP in %s, the endpoint's own region: global access does not matter on this topology", plan.RouterRegion))
		}
		set := func(on bool) func(context.Context) error {
			return func(ctx context.Context) error { return ec.SetMasterGlobalAccess(ctx, on) }
		}
		negative(ctx, set(false), set(true), "enters vpc "+info.Network+" in "+plan.RouterRegion+", and cluster "+info.Name+"'s Private Service Connect endpoint")
	}, NodeTimeout(60*time.Second))

	It("gate check names lost control plane global access and the flow it broke, and passes once it is back", Label("gate", harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		if plan.RouterRegion == plan.EndpointRegion {
			Skip(fmt.Sprintf("the third-party traffic enters GCP in %s, the endpoint's own region: global access does not matter on this topology", plan.RouterRegion))
		}
		base, err := gate.Take(ctx, env, gate.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(base.GlobalAccess).To(HaveValue(BeTrue()))
		Expect(ec.SetMasterGlobalAccess(ctx, false)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(ec.SetMasterGlobalAccess(ctx, true)).To(Succeed()) })
		cur, err := gate.Take(ctx, env, gate.Options{Timeout: time.Second})
		Expect(err).NotTo(HaveOccurred())
		r, err := gate.Compare(base, cur)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("gate check", r.Text())
		Expect(r.Regression).To(BeTrue())
		Expect(r.Changes).To(ContainElement(And(HaveField("What", "control plane global access"), HaveField("Before", "true"), HaveField("After", "false"))))
		Expect(r.Flows).To(ContainElement(And(HaveField("Flow", HavePrefix(tpVM.Name()+" -> ")), HaveField("Before", probe.Connected), HaveField("After", probe.Timeout),
			HaveField("Regression", true), HaveField("WhyAfter", ContainSubstring("control plane global access is off")))))
		Expect(ec.SetMasterGlobalAccess(ctx, true)).To(Succeed())
		Eventually(func(ctx context.Context) bool {
			cur, err := gate.Take(ctx, env, gate.Options{Timeout: time.Second})
			if err != nil {
				return false
			}
			r, err := gate.Compare(base, cur)
			return err == nil && !r.Regression
		}).WithContext(ctx).WithTimeout(15*time.Second).Should(BeTrue(), "restored, the check passes")
	}, NodeTimeout(60*time.Second))

	It("times out when the Cloud Router does not announce the endpoint's subnet", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		rt, err := ec.GetRouter(ctx, plan.Network, plan.Router)
		Expect(err).NotTo(HaveOccurred())
		full := rt.Advertise
		// CUSTOM without the endpoint's range (and without ALL_SUBNETS when the endpoint is in
		// the router's own VPC).
		without := topology.Advertisement{Mode: topology.AdvertiseCustom}
		for _, g := range full.Groups {
			if plan.Network != info.Network {
				without.Groups = append(without.Groups, g)
			}
		}
		for _, r := range full.Ranges {
			if !r.Overlaps(endpointRange()) {
				without.Ranges = append(without.Ranges, r)
			}
		}
		Expect(pscendpoint.Announces(without, plan.Network, info.Network, endpointRange())).To(BeFalse())
		set := func(a topology.Advertisement) func(context.Context) error {
			return func(ctx context.Context) error {
				return ec.PatchRouter(ctx, cloud.RouterPatch{Network: plan.Network, Router: plan.Router, Advertise: &a})
			}
		}
		negative(ctx, set(without), set(full), "does not announce it over")
	}, NodeTimeout(60*time.Second))

	It("times out when the authorized networks apply to the endpoint and lack the third-party range", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		was, err := ec.GetAuthorizedNetworks(ctx)
		Expect(err).NotTo(HaveOccurred())
		source := netip.MustParsePrefix(plan.Source)
		without := cloud.AuthorizedNetworks{Enabled: true, PrivateEndpointEnforcement: true,
			CIDRBlocks: slices.DeleteFunc(slices.Clone(was.CIDRBlocks), func(p netip.Prefix) bool { return p.Overlaps(source) })}
		negative(ctx, func(ctx context.Context) error { return ec.SetAuthorizedNetworks(ctx, without) },
			func(ctx context.Context) error { return ec.SetAuthorizedNetworks(ctx, was) }, "not in the master authorized networks")
	}, NodeTimeout(60*time.Second))
})
