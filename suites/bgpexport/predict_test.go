package bgpexport

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/cloud"
	"reachgate/framework/gate"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/bgpexport"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

// planCase is an example plan of fixtures/plans and the same change made with gcloud at the
// operator, and undone.
type planCase struct {
	file          string
	apply, revert [][]string
}

// planCases are the example plans against the applied bgp-export topology, each with the
// gcloud commands that make the same change on the environment.
func planCases(res *bgpexport.Result, info cloud.ClusterDescription, authorized cloud.AuthorizedNetworks) []planCase {
	p := res.Plan
	var keep, all []string
	for _, b := range authorized.CIDRBlocks {
		all = append(all, b.String())
		if !p.PeerRanges[0].Overlaps(b) {
			keep = append(keep, b.String())
		}
	}
	return []planCase{
		{"export-off.plan.json",
			[][]string{{"compute", "networks", "peerings", "update", info.PeeringName, "--network=" + p.Network, "--no-export-custom-routes"}},
			[][]string{{"compute", "networks", "peerings", "update", info.PeeringName, "--network=" + p.Network, "--export-custom-routes"}}},
		{"advertise-default.plan.json",
			[][]string{{"compute", "routers", "update", p.Router, "--region=" + p.Region, "--advertisement-mode=default"}},
			[][]string{{"compute", "routers", "update", p.Router, "--region=" + p.Region, "--advertisement-mode=custom",
				"--set-advertisement-groups=all_subnets", "--set-advertisement-ranges=" + info.MasterCIDR.String()}}},
		{"deny-ssh-900.plan.json",
			[][]string{{"compute", "firewall-rules", "create", "deny-third-party-ssh", "--network=" + p.Network, "--action=DENY",
				"--rules=tcp:22", "--source-ranges=" + p.PeerRanges[0].String(), "--priority=900"}},
			[][]string{{"compute", "firewall-rules", "delete", "deny-third-party-ssh", "--quiet"}}},
		{"authorized-drop-third-party.plan.json",
			[][]string{{"container", "clusters", "update", info.Name, "--location=" + info.Location, "--enable-master-authorized-networks",
				"--master-authorized-networks=" + strings.Join(keep, ",")}},
			[][]string{{"container", "clusters", "update", info.Name, "--location=" + info.Location, "--enable-master-authorized-networks",
				"--master-authorized-networks=" + strings.Join(all, ",")}}},
		{"labels-only.plan.json",
			[][]string{{"compute", "vpn-gateways", "update", p.Gateway, "--region=" + p.Region, "--update-labels=cost-center=42"}},
			[][]string{{"compute", "vpn-gateways", "update", p.Gateway, "--region=" + p.Region, "--remove-labels=cost-center"}}},
	}
}

// reachable is a probe outcome as the network sees it: a refusal is a reply that came back.
func reachable(o probe.Outcome) bool { return o == probe.Connected || o == probe.Refused }

// checkPredictions predicts each example plan from one snapshot, makes the same change on the
// environment with gcloud, and requires every flow to end where the prediction said; then
// undoes it and requires the baseline back.
func checkPredictions(ctx context.Context, env provider.Environment, tpVM provider.Host, res *bgpexport.Result,
	info cloud.ClusterDescription, vc provider.VPNCloud) {
	if t := env.Topology(); t.Name != "bgp-export" {
		Skip("the example plans of fixtures/plans name the resources of topology bgp-export; this is " + t.Name)
	}
	op, err := harness.Require[provider.Operator](env).Operator()
	Expect(err).NotTo(HaveOccurred())
	if out, err := op.Run(ctx, "gcloud", "--version"); err != nil {
		Fail("gcloud does not run at the operator: install the Google Cloud CLI (.ci/run installs it): " + err.Error() + out)
	}
	node := env.Topology().HostsWithRole(topology.RoleNode)[0]
	opts := gate.Options{Timeout: time.Second, Flows: []gate.FlowSpec{{From: tpVM.Name(), To: netip.AddrPortFrom(node.IP, 22)}}}
	base, err := gate.Take(ctx, env, opts)
	Expect(err).NotTo(HaveOccurred())
	Expect(base.Model).NotTo(BeNil(), "the snapshot holds the imported model")
	authorized, err := vc.GetAuthorizedNetworks(ctx)
	Expect(err).NotTo(HaveOccurred())
	observed := func(ctx context.Context) map[string]bool {
		cur, err := gate.Take(ctx, env, opts)
		Expect(err).NotTo(HaveOccurred())
		out := map[string]bool{}
		for _, f := range cur.Flows {
			out[f.From+" -> "+f.To] = reachable(f.Outcome)
		}
		return out
	}
	baseline := map[string]bool{}
	for _, f := range base.Flows {
		baseline[f.From+" -> "+f.To] = reachable(f.Outcome)
	}
	Expect(baseline).To(HaveKeyWithValue(tpVM.Name()+" -> "+netip.AddrPortFrom(info.PrivateEndpoint, 443).String(), true))
	gcloud := func(ctx context.Context, args []string) {
		out, err := op.Run(ctx, append([]string{"gcloud"}, append(args, "--quiet")...)...)
		Expect(err).NotTo(HaveOccurred(), "gcloud %s: %s", strings.Join(args, " "), out)
	}
	breaks := 0
	for _, pc := range planCases(res, info, authorized) {
		By("plan " + pc.file)
		data, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "plans", pc.file))
		Expect(err).NotTo(HaveOccurred())
		plan, err := gate.ParsePlan(pc.file, data)
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		pred, err := gate.Predict(base, plan)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("gate predict "+pc.file, fmt.Sprintf("%s(predicted in %s)", pred.Text(), time.Since(start).Round(time.Microsecond)))
		want := map[string]bool{}
		for _, f := range pred.Flows {
			want[f.Flow] = f.After
			if f.Before && !f.After {
				breaks++
			}
		}
		Expect(want).To(HaveLen(len(base.Flows)), "every baseline flow is predicted")
		for _, args := range pc.apply {
			gcloud(ctx, args)
		}
		Eventually(observed).WithContext(ctx).WithTimeout(30*time.Second).WithPolling(time.Second).Should(Equal(want),
			"after applying %s the environment's flows are not what gate predict said", pc.file)
		for _, args := range pc.revert {
			gcloud(ctx, args)
		}
		Eventually(observed).WithContext(ctx).WithTimeout(30*time.Second).WithPolling(time.Second).Should(Equal(baseline),
			"undoing %s gives the baseline back", pc.file)
	}
	Expect(breaks).To(BeNumerically(">=", 3), "the example plans break flows (a prediction that nothing changes proves nothing)")
}
