package gcpvpc

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/provider"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

// The project's network as the topology declares it, whoever built it: the lab from the file
// (--provider lab), or the gcp provider through the compute API (--provider gcp: a bare lab's
// API in make test, a real project at night). The checks run at the VMs themselves, so they
// are the same on every provider.
var _ = Describe("gcpvpc: VPCs, a firewall rule and a peering, as built", Label("gcpvpc"), Ordered, func() {
	var (
		env       provider.Environment
		vmA, tpVM provider.Host
		vmB, dbVM *topology.Machine
	)
	BeforeAll(func() {
		env = harness.Env()
		vmA = harness.Actor(topology.RoleInVPCClient)
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		vmB, dbVM = env.Topology().Host("vm-b"), env.Topology().Host("db-vm")
		Expect(vmB).NotTo(BeNil())
		Expect(dbVM).NotTo(BeNil())
	})

	// connect is curl's exit status for a TCP connection from h: 7 refused (the packet got
	// there, nothing listens), 28 timed out (dropped on the way).
	connect := func(ctx SpecContext, h provider.Host, addr string) int {
		out, err := h.Run(ctx, "sh", "-c", fmt.Sprintf(`curl -s -m 3 http://%s/ >/dev/null; echo "exit=$?"`, addr))
		Expect(err).NotTo(HaveOccurred())
		var code int
		_, err = fmt.Sscanf(strings.TrimSpace(out[strings.LastIndex(out, "exit="):]), "exit=%d", &code)
		Expect(err).NotTo(HaveOccurred(), "curl at %s printed %q", h.Name(), out)
		return code
	}

	It("gives each VM the address the topology declares", func(ctx SpecContext) {
		out, err := vmA.Run(ctx, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring(" " + env.Topology().Host(vmA.Name()).IP.String() + "/"))
	}, NodeTimeout(time.Minute))

	It("admits tcp:8080 within the subnet (allow-web): refused, not dropped", func(ctx SpecContext) {
		Expect(connect(ctx, vmA, vmB.IP.String()+":8080")).To(Equal(7))
	}, NodeTimeout(time.Minute))

	It("drops another port (the implied deny ingress)", func(ctx SpecContext) {
		Expect(connect(ctx, vmA, vmB.IP.String()+":9090")).To(Equal(28))
	}, NodeTimeout(time.Minute))

	It("carries the subnet routes across the peering to the other VPC (allow-db-from-app)", func(ctx SpecContext) {
		Expect(connect(ctx, vmA, dbVM.IP.String()+":5432")).To(Equal(7))
	}, NodeTimeout(time.Minute))

	It("leaves the third-party VM without a path into the project (this topology has no interconnect)", func(ctx SpecContext) {
		Expect(connect(ctx, tpVM, vmB.IP.String()+":8080")).To(Equal(28))
	}, NodeTimeout(time.Minute))
})
