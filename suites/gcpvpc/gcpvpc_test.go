package gcpvpc

import (
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/gcpimport"
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

	It("reads back through the GCP API what the topology declares: subnets, VMs, firewall rules, the router, the peering", func(ctx SpecContext) {
		access, err := harness.Require[provider.GCPAPI](env).GCPAPI(ctx)
		Expect(err).NotTo(HaveOccurred())
		r, err := gcpimport.Import(ctx, gcpimport.Config{Project: access.Project, Endpoint: access.Endpoint, Options: access.Options}, nil)
		Expect(err).NotTo(HaveOccurred())
		data, err := r.YAML()
		Expect(err).NotTo(HaveOccurred())
		imported, err := topology.Parse("imported", data)
		Expect(err).NotTo(HaveOccurred(), "the import:\n%s", data)
		// Names differ by provider (the gcp provider prefixes its run's); what is built does not.
		have, want := projectFacts(imported), projectFacts(env.Topology())
		Expect(want).NotTo(BeEmpty(), "the topology declares nothing in GCP")
		for _, f := range want {
			Expect(have).To(ContainElement(f), "the project as its API reads it back:\n%s", data)
		}
	}, NodeTimeout(2*time.Minute))
})

// projectFacts is what a topology says of its GCP VPCs, without names: each subnet's ranges,
// each VM's address and role, each firewall rule, each Cloud Router, and each peering by the
// first subnet of its two VPCs.
func projectFacts(t *topology.Topology) []string {
	var out []string
	first := map[string]string{}
	for _, n := range t.Networks {
		if !n.GCP() || n.ManagedBy != "" {
			continue
		}
		for _, s := range n.Subnets {
			if first[n.Name] == "" {
				first[n.Name] = s.CIDR.String()
			}
			f := fmt.Sprintf("subnet %s in %s", s.CIDR, s.Region)
			for _, r := range s.Secondary {
				f += " + " + r.CIDR.String()
			}
			out = append(out, f)
		}
		for _, r := range n.Firewall {
			var ports []string
			for _, p := range r.Ports {
				ports = append(ports, p.String())
			}
			out = append(out, fmt.Sprintf("rule deny=%v %v %v %s", r.Deny, r.Sources, r.TargetTags, strings.Join(ports, ",")))
		}
		for _, r := range n.Routers {
			out = append(out, fmt.Sprintf("router in %s asn %d %s %v %v", r.Region, r.ASN, r.Advertise.Mode, r.Advertise.Groups, r.Advertise.Ranges))
		}
	}
	for _, h := range t.Hosts {
		if n := t.Network(h.VPC); n != nil && n.GCP() && n.ManagedBy == "" && h.Role != topology.RoleNode && h.Role != topology.RoleControlPlane {
			out = append(out, fmt.Sprintf("vm %s %s", h.IP, h.Role))
		}
	}
	for _, l := range t.Links {
		a, b := first[l.A.VPC], first[l.B.VPC]
		if l.Type == topology.LinkPeering && a != "" && b != "" {
			pair := []string{a, b}
			slices.Sort(pair)
			out = append(out, "peering "+strings.Join(pair, " <-> "))
		}
	}
	return out
}
