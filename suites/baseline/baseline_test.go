package baseline

import (
	"encoding/json"
	"net"
	"net/netip"
	"reachgate/framework/cloud"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/probe"
	"reachgate/framework/provider"
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
		var err error
		tpVM, err = env.Host("tp-vm")
		Expect(err).NotTo(HaveOccurred())
		node, err = env.Host(cluster.Nodes[0])
		Expect(err).NotTo(HaveOccurred())
	})

	explain := func(from string) string {
		ex, ok := env.(provider.Explainer)
		if !ok {
			return "(the provider has no network model to explain with)"
		}
		_, reason, err := ex.Explain(from, netip.AddrPortFrom(cluster.PrivateEndpoint, 443))
		if err != nil {
			return err.Error()
		}
		AddReportEntry("model: "+from+" -> "+endpoint, reason)
		return reason
	}

	It("times out connecting from tp-vm to the private endpoint (not refused, not reachable)", func(ctx SpecContext) {
		res := probe.TCP(ctx, tpVM, endpoint, 3*time.Second)
		Expect(res.Outcome).To(Equal(probe.Timeout), "TCP %s from tp-vm: %+v\nmodel says: %s", endpoint, res, explain("tp-vm"))
	}, SpecTimeout(20*time.Second))

	It("reaches a GKE node from tp-vm, so only the control plane is cut off", func(ctx SpecContext) {
		l, ok := node.(provider.Listener)
		if !ok {
			Skip("the provider cannot listen at a node")
		}
		h := env.Topology().Host(cluster.Nodes[0])
		// SSH: the seed topology's firewall rule allow-third-party-ssh admits tp-vm to the nodes.
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
		Expect(res.Outcome).To(Equal(probe.Connected), "TCP %s from tp-vm: %+v", ln.Addr(), res)
	}, SpecTimeout(20*time.Second))

	It("fails kubectl at tp-vm with a timeout against the private endpoint", func(ctx SpecContext) {
		out, err := tpVM.Kubectl(ctx, "get", "nodes", "--request-timeout=3s")
		Expect(err).To(HaveOccurred(), "kubectl at tp-vm unexpectedly succeeded:\n%s", out)
		Expect(err.Error()).To(MatchRegexp(`(?i)timeout|deadline exceeded`))
	}, SpecTimeout(30*time.Second))

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
	}, SpecTimeout(20*time.Second))

	It("runs kubectl get nodes at a GKE node: every node Ready", func(ctx SpecContext) {
		out, err := node.Kubectl(ctx, "get", "nodes", "--request-timeout=10s")
		Expect(err).NotTo(HaveOccurred())
		for _, n := range cluster.Nodes {
			Expect(out).To(MatchRegexp(`(?m)^`+n+`\s+Ready\s`), "node %s in:\n%s", n, out)
		}
	}, SpecTimeout(30*time.Second))

	It("runs kubectl cluster-info at a GKE node: control plane at the private endpoint", func(ctx SpecContext) {
		out, err := node.Kubectl(ctx, "cluster-info", "--request-timeout=10s")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("Kubernetes control plane"))
		Expect(out).To(ContainSubstring("https://" + cluster.PrivateEndpoint.String()))
	}, SpecTimeout(30*time.Second))
})
