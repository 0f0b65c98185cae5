package baseline

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"reachgate/framework/cloud"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/gate"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

// The problem the article starts from: the third-party VM cannot reach the private
// endpoint (peering is not transitive), while the GKE VPC can.
var _ = Describe("baseline: private control plane without a solution", Label("baseline"), Ordered, func() {
	var (
		env      provider.Environment
		cluster  cloud.ClusterDescription
		endpoint string
		node     provider.Host
		tpVM     provider.Host
	)
	BeforeAll(func() {
		env = harness.Env()
		cluster = env.Cluster()
		Expect(cluster.PrivateEndpoint.IsValid()).To(BeTrue(), "the topology declares no cluster")
		endpoint = netip.AddrPortFrom(cluster.PrivateEndpoint, 443).String()
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		var err error
		node, err = env.Host(cluster.Nodes[0])
		Expect(err).NotTo(HaveOccurred())
	})

	explain := func(from string) string {
		ex, ok := env.(provider.Explainer)
		if !ok {
			return "(provider cannot " + provider.AbilityText[provider.Explainer]() + ")"
		}
		_, reason, err := ex.Explain(from, netip.AddrPortFrom(cluster.PrivateEndpoint, 443))
		if err != nil {
			return err.Error()
		}
		AddReportEntry("model: "+from+" -> "+endpoint, reason)
		return reason
	}

	It("times out connecting from the third-party client to the private endpoint (not refused, not reachable)", func(ctx SpecContext) {
		res := probe.TCP(ctx, tpVM, endpoint, 3*time.Second)
		Expect(res.Outcome).To(Equal(probe.Timeout), "TCP %s from %s: %+v\nmodel says: %s", endpoint, tpVM.Name(), res, explain(tpVM.Name()))
	}, NodeTimeout(20*time.Second))

	It("reaches a GKE node from the third-party client, so only the control plane is cut off", func(ctx SpecContext) {
		l := harness.Require[provider.Listener](node)
		h := env.Topology().Host(cluster.Nodes[0])
		// SSH: the topology's firewall admits the third-party range to the nodes on tcp:22.
		ln, err := l.Listen(ctx, "tcp", net.JoinHostPort(h.IP.String(), "22"))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ln.Close)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		res := probe.TCP(ctx, tpVM, ln.Addr().String(), 3*time.Second)
		Expect(res.Outcome).To(Equal(probe.Connected), "TCP %s from %s: %+v", ln.Addr(), tpVM.Name(), res)
	}, NodeTimeout(20*time.Second))

	It("fails kubectl at the third-party client with a timeout against the private endpoint", func(ctx SpecContext) {
		out, err := tpVM.Kubectl(ctx, "get", "nodes", "--request-timeout=3s")
		Expect(err).To(HaveOccurred(), "kubectl at %s unexpectedly succeeded:\n%s", tpVM.Name(), out)
		Expect(err.Error()).To(MatchRegexp(`(?i)timeout|deadline exceeded`))
	}, NodeTimeout(30*time.Second))

	It("answers GET /version over verified TLS from a GKE node with the server's gitVersion", func(ctx SpecContext) {
		explain(node.Name())
		res, err := probe.HTTPSGet(ctx, node, probe.HTTPSRequest{URL: "https://" + endpoint + "/version", CAPEM: cluster.CAPEM})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Status).To(Equal(200))
		var v struct {
			GitVersion string `json:"gitVersion"`
		}
		Expect(json.Unmarshal(res.Body, &v)).To(Succeed())
		Expect(v.GitVersion).To(Equal(cluster.CurrentMasterVersion))
		AddReportEntry("gitVersion", v.GitVersion)
	}, NodeTimeout(20*time.Second))

	It("runs kubectl get nodes at a GKE node: every node Ready", func(ctx SpecContext) {
		out, err := node.Kubectl(ctx, "get", "nodes", "--request-timeout=10s")
		Expect(err).NotTo(HaveOccurred())
		for _, n := range cluster.Nodes {
			Expect(out).To(MatchRegexp(`(?m)^`+n+`\s+Ready\s`), "node %s in:\n%s", n, out)
		}
	}, NodeTimeout(30*time.Second))

	It("runs kubectl cluster-info at a GKE node: control plane at the private endpoint", func(ctx SpecContext) {
		out, err := node.Kubectl(ctx, "cluster-info", "--request-timeout=10s")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("Kubernetes control plane"))
		Expect(out).To(ContainSubstring("https://" + cluster.PrivateEndpoint.String()))
	}, NodeTimeout(30*time.Second))
	It("reads back, through its GCP API, into a topology that gives the same verdict for every host pair and port (gcp import)", Label("gate", "import"), func(ctx SpecContext) {
		harness.Require[provider.GCPAPI](env)
		harness.Require[provider.Explainer](env)
		r, err := gate.RoundTrip(ctx, env)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("import round trip", fmt.Sprintf("%d flows compared, %d reachable; notes: %v", r.Compared, r.Reachable, r.Notes))
		Expect(r.Mismatches).To(BeEmpty())
		Expect(r.Reachable).To(And(BeNumerically(">", 0), BeNumerically("<", r.Compared)), "the comparison must tell reachable from unreachable")
	}, NodeTimeout(30*time.Second))
})
