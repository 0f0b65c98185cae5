package bgpexport

import (
	"context"
	"fmt"
	"log/slog"
	"reachgate/framework/cloud"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/findings"
	"reachgate/framework/provider"
	"reachgate/framework/solution/bgpexport"
	"reachgate/suites/harness"
	"reachgate/suites/seed/assert"
)

// applied is one applied variant of bgp-export and the cloud it was applied to.
type applied struct {
	vc   provider.VPNCloud
	info cloud.ClusterDescription
	res  *bgpexport.Result
}

func apply(ctx context.Context, v bgpexport.Variant) *applied {
	env := harness.Env()
	c := harness.RequireSolution(env)
	vc := harness.Require[provider.VPNCloud](c)
	info, err := c.Cluster(ctx)
	Expect(err).NotTo(HaveOccurred())
	log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	res, err := bgpexport.Apply(ctx, env, bgpexport.Options{Variant: v, Log: log})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		Expect(bgpexport.Remove(ctx, env, bgpexport.Options{Log: log})).To(Succeed())
	}, NodeTimeout(90*time.Second))
	return &applied{vc: vc, info: info, res: res}
}

// peering reads the customer side of the GKE peering as the cloud reports it: its flags
// (Networks.Get) and the custom routes imported over it (ListPeeringRoutes INCOMING).
func (a *applied) peering(ctx context.Context) findings.Peering {
	p, err := a.vc.GetPeering(ctx, a.res.Plan.Network, a.info.PeeringName)
	Expect(err).NotTo(HaveOccurred())
	routes, err := a.vc.ListPeeringRoutes(ctx, a.res.Plan.Network, a.info.PeeringName, cloud.Incoming)
	Expect(err).NotTo(HaveOccurred())
	ev := findings.Peering{Network: p.Network, Name: p.Name, ImportCustomRoutes: p.ImportCustomRoutes}
	var all []string
	for _, r := range routes {
		all = append(all, fmt.Sprintf("%s %s imported=%t", r.DestRange, r.Type, r.Imported))
		if r.Imported && r.Type != "SUBNET_PEERING_ROUTE" {
			ev.ImportedCustom = append(ev.ImportedCustom, r.DestRange)
		}
	}
	AddReportEntry("peering "+p.Name, fmt.Sprintf("exportCustomRoutes=%t importCustomRoutes=%t; incoming: %s",
		p.ExportCustomRoutes, p.ImportCustomRoutes, strings.Join(all, "; ")), ReportEntryVisibilityAlways)
	// Both variants export: that is what carries the third-party range to the master VPC.
	Expect(p.ExportCustomRoutes).To(BeTrue())
	return ev
}

var _ = Describe("seed findings", Label("seed"), func() {
	Context("bgp-export seed (the article's console steps)", Ordered, Label("solution", "bgp-export", "seed"), func() {
		var a *applied
		BeforeAll(func(ctx SpecContext) { a = apply(ctx, bgpexport.Seed) }, NodeTimeout(3*time.Minute))

		It("RG-PEER-001: the GKE peering imports custom routes, and nothing it imports is needed", func(ctx SpecContext) {
			ev := a.peering(ctx)
			f := assert.Finding(findings.DetectPeeringImport(ev), "RG-PEER-001", "peering "+a.info.PeeringName, "importCustomRoutes=true")
			// The master VPC exports no custom routes: the import brings in nothing.
			Expect(ev.ImportedCustom).To(BeEmpty(), f.Evidence.Text)
			Expect(a.res.Notes).To(ContainElement(ContainSubstring("importCustomRoutes set on " + a.info.PeeringName)))
		}, NodeTimeout(30*time.Second))
	})

	Context("bgp-export hardened: the same detector raises nothing", Ordered, Label("solution", "bgp-export", "hardened"), func() {
		var a *applied
		BeforeAll(func(ctx SpecContext) { a = apply(ctx, bgpexport.Hardened) }, NodeTimeout(3*time.Minute))

		It("exports custom routes over the GKE peering without importing any", func(ctx SpecContext) {
			assert.None(findings.DetectPeeringImport(a.peering(ctx)), "the GKE peering")
			Expect(a.res.Notes).NotTo(ContainElement(ContainSubstring("importCustomRoutes")))
		}, NodeTimeout(30*time.Second))
	})
})
