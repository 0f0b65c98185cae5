package harness

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/fixtures"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/reports"
)

// What every solution's suite proves from the third-party client the same way.

// ExpectNodesReady runs kubectl get nodes at host with the kubeconfig kc and expects every
// node of the cluster listed Ready.
func ExpectNodesReady(ctx context.Context, host provider.Host, kc string, nodes []string) {
	GinkgoHelper()
	out, err := host.Kubectl(ctx, "--kubeconfig", kc, "get", "nodes", "--request-timeout=10s")
	Expect(err).NotTo(HaveOccurred(), out)
	Expect(nodes).NotTo(BeEmpty())
	for _, n := range nodes {
		Expect(out).To(MatchRegexp(`(?m)^`+n+`\s+Ready\s`), "node %s in:\n%s", n, out)
	}
}

// ExpectClusterInfo runs kubectl cluster-info at host with the kubeconfig kc and expects the
// control plane at server.
func ExpectClusterInfo(ctx context.Context, host provider.Host, kc, server string) {
	GinkgoHelper()
	out, err := host.Kubectl(ctx, "--kubeconfig", kc, "cluster-info", "--request-timeout=10s")
	Expect(err).NotTo(HaveOccurred(), out)
	Expect(out).To(ContainSubstring("Kubernetes control plane is running at " + server))
}

// ExpectProbePasses runs reachgate's probe at host against o.URL with the shipped budgets
// (profile none, 200 samples, kubectl through host when o.Kubeconfig is set), records the
// report, and expects every check and budget item to pass. It returns the report.
func ExpectProbePasses(ctx context.Context, host provider.Host, o probe.Options) *probe.Report {
	GinkgoHelper()
	b, err := probe.ParseBudgets("embedded:fixtures/budgets.yaml", fixtures.Budgets())
	Expect(err).NotTo(HaveOccurred())
	o.Budgets, o.Profile, o.Samples = b, "none", 200
	if o.Kubeconfig != "" {
		o.Kubectl = host.Kubectl
	}
	rep, err := probe.Run(ctx, host, o)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry(reports.EntryProbe, rep)
	for _, c := range rep.Checks {
		Expect(c.Pass).To(BeTrue(), "%s: %s", c.Name, c.Reason)
	}
	Expect(rep.Budget).NotTo(BeEmpty())
	for _, v := range rep.Budget {
		AddReportEntry("budget", v.Text)
		Expect(v.Pass).To(BeTrue(), v.Text)
	}
	return rep
}

// ExpectVersion GETs /version of r.URL at host (r.URL is the server's base) and expects 200
// with the API server's version document, verified with r.CAPEM; the model (where the
// provider has one) must agree that host reaches endpoint.
func ExpectVersion(ctx context.Context, host provider.Host, r probe.HTTPSRequest, endpoint netip.AddrPort) {
	GinkgoHelper()
	r.URL += "/version"
	res, err := probe.HTTPSGet(ctx, host, r)
	Expect(err).NotTo(HaveOccurred())
	Expect(res.Status).To(Equal(200))
	Expect(string(res.Body)).To(ContainSubstring(`"gitVersion"`))
	ModelSays(host.Name(), endpoint, true, "")
}

// ProveFailureMode makes one change, expects host's connections to endpoint to time out and
// the model to name reason, then restores it and expects answers to succeed again (restore
// also runs at cleanup, should the spec fail before).
func ProveFailureMode(ctx context.Context, host provider.Host, endpoint netip.AddrPort, change, restore func(context.Context) error, reason string, answers func(context.Context) error) {
	GinkgoHelper()
	Expect(change(ctx)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) })
	Eventually(func(ctx context.Context) probe.Outcome {
		return probe.TCP(ctx, host, endpoint.String(), time.Second).Outcome
	}).WithContext(ctx).WithTimeout(10*time.Second).Should(Equal(probe.Timeout), "the client must time out")
	ModelSays(host.Name(), endpoint, false, reason)
	Expect(restore(ctx)).To(Succeed())
	Eventually(answers).WithContext(ctx).WithTimeout(15*time.Second).Should(Succeed(), "restored, the client must be answered again")
	ModelSays(host.Name(), endpoint, true, "")
}

// VersionAnswered GETs /version of r.URL (the server's base) at host on a new connection with
// a 1 s timeout, and returns an error unless the answer is 200: for Eventually and continuous
// probes.
func VersionAnswered(ctx context.Context, host provider.Host, r probe.HTTPSRequest) error {
	r.URL += "/version"
	r.Timeout, r.NoKeepAlive = time.Second, true
	res, err := probe.HTTPSGet(ctx, host, r)
	if err == nil && res.Status != 200 {
		err = fmt.Errorf("status %d", res.Status)
	}
	return err
}
