package baseline

import (
	"context"
	"encoding/binary"
	"net/netip"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/provider"
	"reachgate/framework/provider/gcp"
	"reachgate/suites/harness"
)

// The janitor the nightly workflow runs after every run: it deletes what carries a run's
// marks and nothing else, here with the environment's own resources and look-alikes present.
var _ = Describe("gcp janitor: removes a run's leftovers and nothing else", Label("janitor", "gcp-api"), Ordered, func() {
	const run = "jt"
	var (
		access  provider.APIAccess
		c       *gcp.Cloud
		fws     *compute.FirewallsClient
		addrs   *compute.AddressesClient
		network string
		region  string
		subnet  string
		cidr    netip.Prefix
	)
	firewall := func(ctx context.Context, name, description string) {
		GinkgoHelper()
		op, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: access.Project, FirewallResource: &computepb.Firewall{
			Name: proto.String(name), Description: proto.String(description), Network: proto.String("global/networks/" + network),
			SourceRanges: []string{"192.0.2.0/24"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"8443"}}}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(op.Wait(ctx)).To(Succeed())
	}
	// Addresses near the top of the subnet, where nothing of the environment sits.
	nextAddr := 0
	address := func(ctx context.Context, name string, labels map[string]string) {
		GinkgoHelper()
		a := cidr.Masked().Addr().As4()
		last := binary.BigEndian.Uint32(a[:]) | (1<<(32-cidr.Bits()) - 1)
		nextAddr++
		binary.BigEndian.PutUint32(a[:], last-uint32(10+nextAddr))
		op, err := addrs.Insert(ctx, &computepb.InsertAddressRequest{Project: access.Project, Region: region, AddressResource: &computepb.Address{
			Name: proto.String(name), AddressType: proto.String("INTERNAL"), Address: proto.String(netip.AddrFrom4(a).String()),
			Subnetwork: proto.String("regions/" + region + "/subnetworks/" + subnet), Labels: labels}})
		Expect(err).NotTo(HaveOccurred())
		Expect(op.Wait(ctx)).To(Succeed())
	}
	exists := func(ctx context.Context, kind, name string) bool {
		var err error
		if kind == "firewall" {
			_, err = fws.Get(ctx, &computepb.GetFirewallRequest{Project: access.Project, Firewall: name})
		} else {
			_, err = addrs.Get(ctx, &computepb.GetAddressRequest{Project: access.Project, Region: region, Address: name})
		}
		if gcp.IsNotFound(err) {
			return false
		}
		Expect(err).NotTo(HaveOccurred())
		return true
	}

	BeforeAll(func(ctx SpecContext) {
		env := harness.Env()
		var err error
		access, err = harness.Require[provider.GCPAPI](env).GCPAPI(ctx)
		Expect(err).NotTo(HaveOccurred())
		c, err = gcp.New(ctx, gcp.Config{Project: access.Project, Endpoint: access.Endpoint, Options: access.Options, Timeout: 2 * time.Minute})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		opts := access.Options
		if access.Endpoint != "" {
			opts = append(opts, option.WithEndpoint(access.Endpoint))
		}
		fws, err = compute.NewFirewallsRESTClient(ctx, opts...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(fws.Close)
		addrs, err = compute.NewAddressesRESTClient(ctx, opts...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(addrs.Close)
		// The project's names of the cluster's VPC and subnet (a provider may prefix the
		// topology's), and the subnet's range from the topology.
		cl, d := env.Topology().Cluster, env.Cluster()
		network, subnet, region = d.Network, d.Subnetwork, d.Region
		cidr = env.Topology().Network(cl.VPC).Subnet(cl.Subnet).CIDR

		// A run's leftovers, and look-alikes a janitor must leave alone.
		firewall(ctx, "rg-jt-allow", gcp.Description(run))
		address(ctx, "rg-jt-addr", map[string]string{gcp.RunLabel: run})
		firewall(ctx, "rg-jt-unmarked", "made by hand")
		firewall(ctx, "jt-unprefixed", gcp.Description(run))
		address(ctx, "jt-unprefixed-addr", map[string]string{gcp.RunLabel: run})
		DeferCleanup(func(ctx SpecContext) {
			for _, n := range []string{"rg-jt-unmarked", "jt-unprefixed", "rg-jt-allow"} {
				if op, err := fws.Delete(ctx, &computepb.DeleteFirewallRequest{Project: access.Project, Firewall: n}); err == nil {
					_ = op.Wait(ctx)
				}
			}
			for _, n := range []string{"jt-unprefixed-addr", "rg-jt-addr"} {
				if op, err := addrs.Delete(ctx, &computepb.DeleteAddressRequest{Project: access.Project, Region: region, Address: n}); err == nil {
					_ = op.Wait(ctx)
				}
			}
		})
	}, NodeTimeout(2*time.Minute))

	It("finds nothing younger than --older-than, and nothing of another run", func(ctx SpecContext) {
		found, err := c.FindLeftovers(ctx, gcp.JanitorOptions{OlderThan: time.Hour})
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeEmpty())
		found, err = c.FindLeftovers(ctx, gcp.JanitorOptions{Run: "another"})
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeEmpty())
	}, NodeTimeout(time.Minute))

	// Filtered by run: under the gcp provider the environment is itself a run whose resources
	// the janitor would (rightly) find too.
	It("finds exactly the run's resources, what uses others first, and deletes them", func(ctx SpecContext) {
		found, err := c.FindLeftovers(ctx, gcp.JanitorOptions{Run: run})
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, l := range found {
			names = append(names, l.Kind+" "+l.Name)
			Expect(l.Run).To(Equal(run))
		}
		Expect(names).To(Equal([]string{"address rg-jt-addr", "firewall rg-jt-allow"}))
		Expect(c.DeleteLeftovers(ctx, found, GinkgoWriter)).To(Succeed())
		Expect(exists(ctx, "firewall", "rg-jt-allow")).To(BeFalse())
		Expect(exists(ctx, "address", "rg-jt-addr")).To(BeFalse())
		again, err := c.FindLeftovers(ctx, gcp.JanitorOptions{Run: run})
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(BeEmpty())
	}, NodeTimeout(2*time.Minute))

	It("left the look-alikes and the environment's own resources", func(ctx SpecContext) {
		Expect(exists(ctx, "firewall", "rg-jt-unmarked")).To(BeTrue())
		Expect(exists(ctx, "firewall", "jt-unprefixed")).To(BeTrue())
		Expect(exists(ctx, "address", "jt-unprefixed-addr")).To(BeTrue())
		env := harness.Env()
		for _, n := range env.Topology().Network(env.Topology().Cluster.VPC).Firewall {
			name := provider.ProjectName(env, n.Name)
			Expect(exists(ctx, "firewall", name)).To(BeTrue(), "the janitor deleted the environment's rule %s", name)
		}
	}, NodeTimeout(time.Minute))
})
