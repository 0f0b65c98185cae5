package gcloud

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"reachgate/framework/cloud"
	"reachgate/framework/httplog"
	"reachgate/framework/kubeconfig"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/bgpexport"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

// The article's Solution 2 as a platform engineer does it: gcloud alone, at the operator's
// position, against the environment's project (the lab's GCP API in the lab). Every cloud
// change is a gcloud command; the verdicts come from the third-party VM and a GKE node.
var _ = Describe("bgp-export with gcloud", Label("gcloud", "solution", "bgp-export"), Ordered, func() {
	var (
		env      provider.Environment
		op       provider.Host
		plan     bgpexport.Plan
		info     cloud.ClusterDescription
		endpoint netip.AddrPort
		tpVM     provider.Host
		region   string
		ifaces   []string
	)
	// Each step's gcloud HTTP log (--log-http) goes to a file of its own at the operator; it is
	// compared with the step's golden at the end of the step.
	var httpLog, secret string
	record := func(ctx context.Context, step string) {
		GinkgoHelper()
		var err error
		httpLog, err = harness.Require[provider.FilePlacer](op).PlaceFile(ctx, "http-"+step+".log", nil)
		Expect(err).NotTo(HaveOccurred())
	}
	// gcloud runs one command at the operator and decodes its JSON output into out (if not nil).
	gcloud := func(ctx context.Context, out any, args ...string) {
		GinkgoHelper()
		argv := append([]string{"sh", "-c", `exec gcloud "$@" --log-http --format=json 2>>"$0"`, httpLog}, args...)
		stdout, err := op.Run(ctx, argv...)
		if err != nil {
			// gcloud's own message went to the log with the HTTP exchanges.
			tail, _ := op.Run(ctx, "sh", "-c", `grep -E "^(ERROR|WARNING)" "$0" | tail -5`, httpLog)
			Fail(fmt.Sprintf("gcloud %s: %v\n%s", strings.Join(args, " "), err, tail))
		}
		if out != nil {
			Expect(json.Unmarshal([]byte(stdout), out)).To(Succeed(), "gcloud %s printed %q", strings.Join(args, " "), stdout)
		}
	}
	// golden compares the step's normalized HTTP log with testdata/<topology>/<step>.golden
	// (REACHGATE_UPDATE_GOLDEN=1 writes it instead).
	golden := func(ctx context.Context, step string) {
		GinkgoHelper()
		raw, err := op.Run(ctx, "cat", httpLog)
		Expect(err).NotTo(HaveOccurred())
		exs := httplog.Parse(raw)
		Expect(exs).NotTo(BeEmpty(), "gcloud logged no HTTP exchange")
		project, err := op.Run(ctx, "gcloud", "config", "get-value", "project")
		Expect(err).NotTo(HaveOccurred())
		vars := httplog.Vars{"{project}": strings.TrimSpace(project), "{secret}": secret}
		if m := regexp.MustCompile(`^https?://[^/]+`).FindString(exs[0].URI); m != "" {
			vars["{endpoint}"] = m
		}
		got := httplog.Normalize(exs, vars)
		path := filepath.Join("testdata", env.Topology().Name, step+".golden")
		if os.Getenv("REACHGATE_UPDATE_GOLDEN") == "1" {
			Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
			Expect(os.WriteFile(path, []byte(got), 0o644)).To(Succeed())
			return
		}
		want, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred(), "no golden HTTP log for this step: record it with REACHGATE_UPDATE_GOLDEN=1")
		if d := httplog.Diff(string(want), got); d != "" {
			Fail(fmt.Sprintf("gcloud's requests differ from %s (- golden, + now; REACHGATE_UPDATE_GOLDEN=1 records the new ones):\n%s", path, d))
		}
	}

	BeforeAll(func(ctx SpecContext) {
		env = harness.Env()
		var err error
		op, err = harness.Require[provider.Operator](env).Operator()
		Expect(err).NotTo(HaveOccurred())
		if out, err := op.Run(ctx, "gcloud", "--version"); err != nil {
			Fail("gcloud does not run at the operator: install the Google Cloud CLI (Debian/Ubuntu package google-cloud-cli; .ci/run installs it): " + err.Error())
		} else {
			AddReportEntry("gcloud", strings.SplitN(out, "\n", 2)[0])
		}
		c := harness.RequireSolution(env)
		info, err = c.Cluster(ctx)
		Expect(err).NotTo(HaveOccurred())
		endpoint = netip.AddrPortFrom(info.PrivateEndpoint, 443)
		plan, err = bgpexport.NewPlan(env.Topology(), "")
		Expect(err).NotTo(HaveOccurred())
		region = plan.Region
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		// The baseline: nothing joins the clouds yet.
		Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
		DeferCleanup(func(ctx SpecContext) {
			// Whatever the steps left, the solution's own removal takes away (the same names).
			Expect(bgpexport.Remove(ctx, env, bgpexport.Options{})).To(Succeed())
			// Nothing of the sessions stays on the Cloud Router (a PATCH cannot clear a list).
			rt, err := harness.Require[provider.VPNCloud](harness.RequireSolution(env)).GetRouter(ctx, plan.Network, plan.Router)
			Expect(err).NotTo(HaveOccurred())
			Expect(rt.BgpPeers).To(BeEmpty(), "BGP peers left after Remove")
			Expect(rt.Interfaces).To(BeEmpty(), "router interfaces left after Remove")
			Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
		}, NodeTimeout(90*time.Second))
	}, NodeTimeout(60*time.Second))

	It("creates the HA VPN gateway with two interfaces", func(ctx SpecContext) {
		record(ctx, "create-vpn-gateway")
		DeferCleanup(func(ctx SpecContext) { golden(ctx, "create-vpn-gateway") })
		var gws []struct {
			Name          string `json:"name"`
			VpnInterfaces []struct {
				ID        int    `json:"id"`
				IPAddress string `json:"ipAddress"`
			} `json:"vpnInterfaces"`
		}
		gcloud(ctx, &gws, "compute", "vpn-gateways", "create", plan.Gateway, "--network="+plan.Network, "--region="+region)
		Expect(gws).To(HaveLen(1))
		Expect(gws[0].Name).To(Equal(plan.Gateway))
		Expect(gws[0].VpnInterfaces).To(HaveLen(2))
	}, NodeTimeout(60*time.Second))

	It("creates the third-party cloud's gateway with four interfaces", func(ctx SpecContext) {
		record(ctx, "create-external-vpn-gateway")
		DeferCleanup(func(ctx SpecContext) { golden(ctx, "create-external-vpn-gateway") })
		var gws []struct {
			RedundancyType string `json:"redundancyType"`
			Interfaces     []any  `json:"interfaces"`
		}
		// The peer's public addresses (documentation range); the lab joins the clouds by its
		// own underlay.
		gcloud(ctx, &gws, "compute", "external-vpn-gateways", "create", plan.PeerGateway,
			"--interfaces=0=203.0.113.1,1=203.0.113.2,2=203.0.113.3,3=203.0.113.4")
		Expect(gws).To(HaveLen(1))
		Expect(gws[0].RedundancyType).To(Equal("FOUR_IPS_REDUNDANCY"))
		Expect(gws[0].Interfaces).To(HaveLen(4))
	}, NodeTimeout(60*time.Second))

	It("creates four tunnels, two per HA VPN interface, with a shared secret that is never printed", func(ctx SpecContext) {
		record(ctx, "create-vpn-tunnels")
		DeferCleanup(func(ctx SpecContext) { golden(ctx, "create-vpn-tunnels") })
		raw := make([]byte, 24)
		_, _ = rand.Read(raw)
		secret = base64.RawURLEncoding.EncodeToString(raw)
		// The secret goes in a flags file, not on a command line that error messages repeat.
		flags, err := harness.Require[provider.FilePlacer](op).PlaceFile(ctx, "tunnel-flags.yaml",
			[]byte("--shared-secret: "+secret+"\n"))
		Expect(err).NotTo(HaveOccurred())
		for k, name := range plan.Tunnels {
			var ts []struct {
				Name         string `json:"name"`
				SharedSecret string `json:"sharedSecret"`
				Router       string `json:"router"`
			}
			gcloud(ctx, &ts, "compute", "vpn-tunnels", "create", name, "--region="+region, "--vpn-gateway="+plan.Gateway,
				fmt.Sprintf("--interface=%d", k/2), "--peer-external-gateway="+plan.PeerGateway,
				fmt.Sprintf("--peer-external-gateway-interface=%d", k), "--ike-version=2", "--router="+plan.Router, "--flags-file="+flags)
			Expect(ts).To(HaveLen(1))
			Expect(ts[0].Name).To(Equal(name))
			Expect(ts[0].SharedSecret).NotTo(ContainSubstring(secret))
			Expect(ts[0].Router).To(HaveSuffix("/routers/" + plan.Router))
		}
	}, NodeTimeout(2*time.Minute))

	It("adds four router interfaces and four BGP peers", func(ctx SpecContext) {
		record(ctx, "add-bgp-peers")
		DeferCleanup(func(ctx SpecContext) { golden(ctx, "add-bgp-peers") })
		ifaces = nil
		for k, p := range plan.Peers {
			ifName := fmt.Sprintf("%s-if-%d", plan.Link, k)
			ifaces = append(ifaces, ifName)
			gcloud(ctx, nil, "compute", "routers", "add-interface", plan.Router, "--region="+region, "--interface-name="+ifName,
				"--ip-address="+p.IPAddress.String(), "--mask-length=30", "--vpn-tunnel="+p.Tunnel)
			gcloud(ctx, nil, "compute", "routers", "add-bgp-peer", plan.Router, "--region="+region, "--peer-name="+p.Name,
				"--interface="+ifName, "--peer-ip-address="+p.PeerIPAddress.String(), fmt.Sprintf("--peer-asn=%d", p.PeerAsn))
		}
		var rt struct {
			Interfaces []struct{ Name, IPRange, LinkedVpnTunnel string } `json:"interfaces"`
			BgpPeers   []struct {
				Name, InterfaceName, IPAddress, PeerIPAddress string
				PeerAsn                                       uint32
			} `json:"bgpPeers"`
		}
		gcloud(ctx, &rt, "compute", "routers", "describe", plan.Router, "--region="+region)
		Expect(rt.Interfaces).To(HaveLen(4))
		Expect(rt.BgpPeers).To(HaveLen(4))
		for k, p := range rt.BgpPeers {
			Expect(p.InterfaceName).To(Equal(ifaces[k]))
			Expect(p.IPAddress).To(Equal(plan.Peers[k].IPAddress.String()), "the peer's address defaults to its interface's")
			Expect(p.PeerAsn).To(Equal(plan.PeerASN))
		}
	}, NodeTimeout(3*time.Minute))

	It("brings up 4 of 4 BGP sessions; routers get-status shows the third-party range learned", func(ctx SpecContext) {
		type status struct {
			Result struct {
				BestRoutes    []struct{ DestRange string } `json:"bestRoutes"`
				BgpPeerStatus []struct {
					Name, Status     string
					NumLearnedRoutes int
				} `json:"bgpPeerStatus"`
			} `json:"result"`
		}
		Eventually(func(g Gomega, ctx context.Context) {
			var st status
			gcloud(ctx, &st, "compute", "routers", "get-status", plan.Router, "--region="+region)
			up := 0
			for _, p := range st.Result.BgpPeerStatus {
				if p.Status == "UP" && p.NumLearnedRoutes > 0 {
					up++
				}
			}
			g.Expect(up).To(Equal(4), "sessions UP with learned routes: %+v", st.Result.BgpPeerStatus)
			var learned []string
			for _, r := range st.Result.BestRoutes {
				learned = append(learned, r.DestRange)
			}
			for _, r := range plan.PeerRanges {
				g.Expect(learned).To(ContainElement(r.String()))
			}
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(2 * time.Second).Should(Succeed())
	}, NodeTimeout(90*time.Second))

	It("is still refused before the master range is announced and the peering exports custom routes", func(ctx SpecContext) {
		Expect(probe.TCP(ctx, tpVM, endpoint.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
	}, NodeTimeout(30*time.Second))

	It("announces the master range (routers update), exports custom routes over the GKE peering and authorizes the third-party range", func(ctx SpecContext) {
		record(ctx, "announce-export-authorize")
		DeferCleanup(func(ctx SpecContext) { golden(ctx, "announce-export-authorize") })
		gcloud(ctx, nil, "compute", "routers", "update", plan.Router, "--region="+region, "--advertisement-mode=custom",
			"--set-advertisement-groups=all_subnets", "--set-advertisement-ranges="+info.MasterCIDR.String())
		gcloud(ctx, nil, "compute", "networks", "peerings", "update", info.PeeringName, "--network="+plan.Network, "--export-custom-routes")
		var cl struct {
			MasterAuthorizedNetworksConfig struct {
				Enabled    bool                         `json:"enabled"`
				CidrBlocks []struct{ CidrBlock string } `json:"cidrBlocks"`
			} `json:"masterAuthorizedNetworksConfig"`
		}
		gcloud(ctx, &cl, "container", "clusters", "describe", info.Name, "--location="+info.Location)
		var blocks []string
		for _, b := range cl.MasterAuthorizedNetworksConfig.CidrBlocks {
			blocks = append(blocks, b.CidrBlock)
		}
		for _, r := range plan.PeerRanges {
			if !slices.Contains(blocks, r.String()) {
				blocks = append(blocks, r.String())
			}
		}
		gcloud(ctx, nil, "container", "clusters", "update", info.Name, "--location="+info.Location,
			"--enable-master-authorized-networks", "--master-authorized-networks="+strings.Join(blocks, ","))
		gcloud(ctx, &cl, "container", "clusters", "describe", info.Name, "--location="+info.Location)
		Expect(cl.MasterAuthorizedNetworksConfig.Enabled).To(BeTrue())
		Expect(cl.MasterAuthorizedNetworksConfig.CidrBlocks).To(HaveLen(len(blocks)))
	}, NodeTimeout(2*time.Minute))

	It("answers the third-party VM: GET /version is 200 and kubectl get nodes lists the cluster's nodes", func(ctx SpecContext) {
		Eventually(func(ctx context.Context) error {
			r, err := probe.HTTPSGet(ctx, tpVM, probe.HTTPSRequest{URL: "https://" + endpoint.String() + "/version", CAPEM: info.CAPEM,
				Timeout: 2 * time.Second, NoKeepAlive: true})
			if err == nil && r.Status != 200 {
				err = fmt.Errorf("status %d", r.Status)
			}
			return err
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		out, err := tpVM.Kubectl(ctx, "get", "nodes", "-o", "name")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(out)).To(HaveLen(len(env.Topology().Cluster.Nodes)))
	}, NodeTimeout(60*time.Second))

	It("realizes firewall-rules create, update and delete at a GKE node within seconds", func(ctx SpecContext) {
		record(ctx, "firewall-rules")
		DeferCleanup(func(ctx SpecContext) { golden(ctx, "firewall-rules") })
		node := harness.Actor(topology.RoleNode)
		ln, err := harness.Require[provider.Listener](node).Listen(ctx, "tcp", ":22")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ln.Close)
		target := netip.AddrPortFrom(env.Topology().Host(node.Name()).IP, 22).String()
		reaches := func(want probe.Outcome, why string) {
			GinkgoHelper()
			Eventually(func(ctx context.Context) probe.Outcome {
				return probe.TCP(ctx, tpVM, target, time.Second).Outcome
			}).WithContext(ctx).WithTimeout(15*time.Second).Should(Equal(want), why)
		}
		reaches(probe.Connected, "the topology's allow-third-party-ssh rule admits tcp:22 from the third-party range")
		rule := "rg-deny-third-party-ssh"
		gcloud(ctx, nil, "compute", "firewall-rules", "create", rule, "--network="+plan.Network, "--action=DENY", "--rules=tcp:22",
			"--source-ranges="+plan.PeerRanges[0].String(), "--priority=900")
		DeferCleanup(func(ctx SpecContext) {
			// Gone already when the spec passed; deleted here when it failed half way.
			_, _ = op.Run(ctx, "gcloud", "compute", "firewall-rules", "delete", rule, "--quiet")
		})
		reaches(probe.Timeout, "a deny at priority 900 wins over the allow at 1000")
		if ex, ok := env.(provider.Explainer); ok {
			reachable, reason, err := ex.Explain(tpVM.Name(), netip.MustParseAddrPort(target))
			Expect(err).NotTo(HaveOccurred())
			Expect(reachable).To(BeFalse())
			Expect(reason).To(ContainSubstring(rule))
		}
		gcloud(ctx, nil, "compute", "firewall-rules", "update", rule, "--priority=1100")
		reaches(probe.Connected, "at priority 1100 the deny comes after the allow at 1000")
		var rules []struct {
			Name     string `json:"name"`
			Priority int    `json:"priority"`
		}
		gcloud(ctx, &rules, "compute", "firewall-rules", "list")
		Expect(rules).To(ContainElement(And(HaveField("Name", rule), HaveField("Priority", 1100))))
		gcloud(ctx, nil, "compute", "firewall-rules", "delete", rule, "--quiet")
		_, err = op.Run(ctx, "gcloud", "compute", "firewall-rules", "describe", rule)
		Expect(err).To(MatchError(ContainSubstring("was not found")))
		reaches(probe.Connected, "deleted, the rule no longer applies")
	}, NodeTimeout(2*time.Minute))

	It("writes a working kubeconfig with container clusters get-credentials --internal-ip (token from auth/access_token_file)", func(ctx SpecContext) {
		cfg, err := harness.Require[provider.KubeAdmin](env).AdminConfig()
		Expect(err).NotTo(HaveOccurred())
		cs, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		req := kubeconfig.Request{ServiceAccount: "reachgate-gcloud", ClusterRole: "reachgate-gcloud-reader", Rules: kubeconfig.NodeReader,
			TokenTTL: time.Hour, ClusterName: info.Name, Server: "https://" + info.PrivateEndpoint.String(), CAPEM: info.CAPEM}
		access, err := kubeconfig.Create(ctx, cs, req)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(kubeconfig.Delete(ctx, cs, req)).To(Succeed()) })
		placer := harness.Require[provider.FilePlacer](op)
		tokenFile, err := placer.PlaceFile(ctx, "access-token", []byte(access.Token))
		Expect(err).NotTo(HaveOccurred())
		kcPath, err := placer.PlaceFile(ctx, "get-credentials.kubeconfig", nil)
		Expect(err).NotTo(HaveOccurred())
		_, err = op.Run(ctx, "env", "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=false", "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE="+tokenFile, "KUBECONFIG="+kcPath,
			"gcloud", "container", "clusters", "get-credentials", info.Name, "--location="+info.Location, "--internal-ip")
		Expect(err).NotTo(HaveOccurred())
		kc, err := clientcmd.LoadFromFile(kcPath)
		Expect(err).NotTo(HaveOccurred())
		cur := kc.Contexts[kc.CurrentContext]
		Expect(cur).NotTo(BeNil(), "get-credentials sets the current context")
		Expect(kc.Clusters[cur.Cluster].Server).To(Equal("https://" + info.PrivateEndpoint.String()))
		Expect(string(kc.Clusters[cur.Cluster].CertificateAuthorityData)).To(Equal(string(info.CAPEM)))
		user := kc.AuthInfos[cur.AuthInfo]
		Expect(user.Exec).NotTo(BeNil())
		Expect(user.Exec.Command).To(Equal("gke-gcloud-auth-plugin"))
		// At a node, with the operator's gcloud configuration and token file, as a workstation
		// on the VPC would have them.
		node := harness.Actor(topology.RoleNode)
		config, err := op.Run(ctx, "sh", "-c", "echo $CLOUDSDK_CONFIG")
		Expect(err).NotTo(HaveOccurred())
		user.Exec.Env = append(user.Exec.Env,
			clientcmdapi.ExecEnvVar{Name: "CLOUDSDK_CONFIG", Value: strings.TrimSpace(config)},
			clientcmdapi.ExecEnvVar{Name: "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", Value: tokenFile},
			clientcmdapi.ExecEnvVar{Name: "CLOUDSDK_CORE_CHECK_GCE_METADATA", Value: "false"})
		data, err := clientcmd.Write(*kc)
		Expect(err).NotTo(HaveOccurred())
		nodeKC, err := harness.Require[provider.FilePlacer](node).PlaceFile(ctx, "get-credentials.kubeconfig", data)
		Expect(err).NotTo(HaveOccurred())
		out, err := node.Kubectl(ctx, "--kubeconfig="+nodeKC, "get", "nodes", "-o", "name")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(out)).To(HaveLen(len(env.Topology().Cluster.Nodes)))
	}, NodeTimeout(90*time.Second))
})
