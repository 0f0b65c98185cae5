package dnsendpoint

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/cloud"
	"reachgate/framework/netmodel"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/dnsendpoint"
	"reachgate/framework/solution/pscendpoint"
	"reachgate/framework/topology"
	"reachgate/reports"
	"reachgate/suites/harness"
	"reachgate/suites/internal/footprint"
)

// The control plane's DNS-based endpoint, from the third-party VM.
var _ = Describe("dns-endpoint", Label("solution", "dns-endpoint"), Ordered, func() {
	var (
		env  provider.Environment
		cl   provider.Cloud
		dc   provider.DNSEndpointCloud
		tpVM provider.Host
		info cloud.ClusterDescription
		plan dnsendpoint.Plan
		res  *dnsendpoint.Result
		kc   string
		// before is the router's advertisement before Apply.
		before topology.Advertisement
	)
	target := func() string { return net.JoinHostPort(plan.Endpoint, "443") }
	request := func() probe.HTTPSRequest {
		return probe.HTTPSRequest{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token}
	}
	get := func(ctx context.Context) error { return harness.VersionAnswered(ctx, tpVM, request()) }

	BeforeAll(func(ctx SpecContext) {
		env = harness.Env()
		cl = harness.RequireSolution(env)
		dc = harness.Require[provider.DNSEndpointCloud](cl)
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		var err error
		plan, info, err = dnsendpoint.Survey(ctx, env.Topology(), cl)
		Expect(err).NotTo(HaveOccurred())
		rt, err := dc.GetRouter(ctx, plan.Network, plan.Router)
		Expect(err).NotTo(HaveOccurred())
		before = rt.Advertise
		AddReportEntry("path", fmt.Sprintf("%s resolves %s, enters GCP at %s/%s, reaches private.googleapis.com %s",
			plan.Client, plan.Endpoint, plan.Network, plan.Router, netmodel.PrivateGoogleAPIs))
		// The baseline as GKE behaves: the endpoint exists, but the VM's DNS does not know the
		// name (nor would the range be routed, nor user traffic taken).
		_, err = probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: "https://" + target() + "/version", CAPEM: info.CAPEM, Timeout: 2 * time.Second})
		Expect(err).To(MatchError(ContainSubstring("no such host")))
		harness.DNSModelSays(tpVM.Name(), false, "has no record for it")

		log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		footprint.OfApply(ctx, env, func() []string {
			res, err = dnsendpoint.Apply(ctx, env, dnsendpoint.Options{Log: log})
			Expect(err).NotTo(HaveOccurred())
			return res.CloudFootprint()
		})
		AddReportEntry("apply seconds", fmt.Sprintf("%.2f", res.Seconds))
		AddReportEntry("cloud changes", fmt.Sprintf("%d", res.Plan.Changes.Count()))
		Expect(res.Plan.Changes.Count()).To(BeNumerically(">", 0), "the baseline is unreachable, so Apply must change something")
		DeferCleanup(func(ctx SpecContext) {
			Expect(dnsendpoint.Remove(ctx, env, dnsendpoint.Options{Log: log})).To(Succeed())
			// Remove restores exactly what Apply changed.
			rt, err := dc.GetRouter(ctx, plan.Network, plan.Router)
			Expect(err).NotTo(HaveOccurred())
			Expect(rt.Advertise).To(Equal(before), "Remove restores the router's advertisement")
			d, err := cl.Cluster(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.DNSAllowExternalTraffic).To(Equal(info.DNSAllowExternalTraffic), "Remove restores allowExternalTraffic")
			principals, err := dc.ClusterConnectPrincipals(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(principals).NotTo(ContainElement(res.Plan.Principal), "Remove revokes the IAM binding")
			_, found, err := dc.PrivateZone(ctx, plan.ClientVPC, dnsendpoint.Zone)
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeFalse(), "Remove deletes the private zone")
			harness.DNSModelSays(tpVM.Name(), false, "has no record for it")
		}, NodeTimeout(60*time.Second))
		kc, err = harness.Require[provider.FilePlacer](tpVM).PlaceFile(ctx, "dns-endpoint.kubeconfig", res.Kubeconfig)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(2*time.Minute))

	It("answers GET /version at the DNS name from the third-party client, verified with the front end's public chain", func(ctx SpecContext) {
		r := request()
		r.URL += "/version"
		Eventually(func(ctx context.Context) (int, error) {
			out, err := probe.HTTPSGet(ctx, tpVM, r)
			return out.Status, err
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Equal(200))
		out, err := probe.HTTPSGet(ctx, tpVM, r)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out.Body)).To(ContainSubstring(`"gitVersion"`))
		harness.DNSModelSays(tpVM.Name(), true, "takes user traffic")
	}, NodeTimeout(20*time.Second))

	It("runs kubectl get nodes at the third-party client: every node Ready", func(ctx SpecContext) {
		harness.ExpectNodesReady(ctx, tpVM, kc, env.Topology().Cluster.Nodes)
	}, NodeTimeout(30*time.Second))

	It("runs kubectl cluster-info at the third-party client: control plane at the DNS name", func(ctx SpecContext) {
		harness.ExpectClusterInfo(ctx, tpVM, kc, res.Server)
	}, NodeTimeout(30*time.Second))

	It("fails the TLS handshake for a client that trusts the cluster CA instead of the front end's chain", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		_, err := probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: info.CAPEM, Timeout: 5 * time.Second})
		Expect(err).To(MatchError(ContainSubstring("certificate signed by unknown authority")))
	}, NodeTimeout(20*time.Second))

	It("meets the probe's checks and budgets from the third-party client: TLS chain, SAN, expiry, versions, latency, kubectl", Label(harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		rep := harness.ExpectProbePasses(ctx, tpVM, probe.Options{URL: res.Server, CAPEM: res.CAPEM, Token: res.Token, Kubeconfig: kc})
		// The front end's certificate names the endpoint's DNS name, not an address.
		Expect(rep.TLS.DNSNames).To(ContainElement(plan.Endpoint))
	}, NodeTimeout(2*time.Minute))

	// negative makes one change, proves the request fails as fails says and the model names
	// reason (when it is the model's to name), then restores it and proves the answer is back.
	negative := func(ctx context.Context, change, restore func(context.Context) error, fails func(context.Context) error, reachable bool, reason string) {
		Expect(change(ctx)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) })
		Eventually(fails).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())
		harness.DNSModelSays(tpVM.Name(), reachable, reason)
		Expect(restore(ctx)).To(Succeed())
		Eventually(get).WithContext(ctx).WithTimeout(15*time.Second).Should(Succeed(), "restored, the client must be answered again")
		harness.DNSModelSays(tpVM.Name(), true, "")
	}
	// refused expects the front end to answer /version with status and a body holding why.
	refused := func(status int, why string) func(context.Context) error {
		return func(ctx context.Context) error {
			r := request()
			r.URL += "/version"
			r.Timeout, r.NoKeepAlive = 2*time.Second, true
			out, err := probe.HTTPSGet(ctx, tpVM, r)
			if err != nil {
				return err
			}
			if out.Status != status || !containsFold(string(out.Body), why) {
				return fmt.Errorf("status %d, body %q; want %d and %q", out.Status, out.Body, status, why)
			}
			return nil
		}
	}

	It("times out when the Cloud Router does not announce private.googleapis.com", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		rt, err := dc.GetRouter(ctx, plan.Network, plan.Router)
		Expect(err).NotTo(HaveOccurred())
		full := rt.Advertise
		without := full
		without.Ranges = slices.DeleteFunc(slices.Clone(full.Ranges), func(p netip.Prefix) bool { return p.Overlaps(netmodel.PrivateGoogleAPIs) })
		Expect(pscendpoint.Announces(without, plan.Network, "", netmodel.PrivateGoogleAPIs)).To(BeFalse())
		set := func(a topology.Advertisement) func(context.Context) error {
			return func(ctx context.Context) error {
				return dc.PatchRouter(ctx, cloud.RouterPatch{Network: plan.Network, Router: plan.Router, Advertise: &a})
			}
		}
		timesOut := func(ctx context.Context) error {
			if o := probe.TCP(ctx, tpVM, target(), time.Second).Outcome; o != probe.Timeout {
				return fmt.Errorf("outcome %s; want %s", o, probe.Timeout)
			}
			return nil
		}
		negative(ctx, set(without), set(full), timesOut, false, "add 199.36.153.8/30 to the ranges of "+plan.Router+"'s CUSTOM advertisement")
	}, NodeTimeout(60*time.Second))

	It("cannot resolve the name when the third-party DNS does not map gke.goog", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		z, found, err := dc.PrivateZone(ctx, plan.ClientVPC, dnsendpoint.Zone)
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		noName := func(ctx context.Context) error {
			_, err := probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: res.CAPEM, Timeout: 2 * time.Second})
			if err == nil || !containsFold(err.Error(), "no such host") {
				return fmt.Errorf("error %v; want no such host", err)
			}
			return nil
		}
		negative(ctx, func(ctx context.Context) error { return dc.DeletePrivateZone(ctx, plan.ClientVPC, dnsendpoint.Zone) },
			func(ctx context.Context) error { return dc.SetPrivateZone(ctx, plan.ClientVPC, z) }, noName, false, "has no record for it")
	}, NodeTimeout(60*time.Second))

	It("is refused (403) by the front end when allowExternalTraffic is false", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		set := func(on bool) func(context.Context) error {
			return func(ctx context.Context) error { return dc.SetDNSEndpointExternalTraffic(ctx, on) }
		}
		negative(ctx, set(false), set(true), refused(403, "allowExternalTraffic is false"), false, "allowExternalTraffic is false")
	}, NodeTimeout(60*time.Second))

	It("is refused (403) by the front end for a principal IAM does not let connect", Label(reports.LabelFailureMode), func(ctx SpecContext) {
		p := res.Plan.Principal
		// The route, the name and the setting are all in place: the model says reachable; the
		// front end's IAM check refuses the token's principal.
		negative(ctx, func(ctx context.Context) error { return dc.RevokeClusterConnect(ctx, p) },
			func(ctx context.Context) error { return dc.GrantClusterConnect(ctx, p) },
			refused(403, "principal "+p+" lacks container.clusters.connect"), true, "")
	}, NodeTimeout(60*time.Second))
})

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
