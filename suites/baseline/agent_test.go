package baseline

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/agent"
	"reachgate/framework/provider"
	"reachgate/framework/provider/gcp"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

// How the gcp provider reaches its VMs: reachgate's agent, installed through the compute
// API alone (metadata, a reset) and driven through it (a job as a metadata item, the result
// as guest attributes). On the lab the same startup script and protocol run against the lab's
// API and the instance's metadata server in its namespace.
var _ = Describe("a VM through reachgate's agent (the gcp provider's way to its hosts)", Label("agent", "gcp-api"), Ordered, func() {
	var (
		c    *gcp.Cloud
		zone string
		vm   *topology.Machine
		// instance is the VM's name in the project.
		instance string
		host     *gcp.AgentHost
		cluster  = func() netip.Addr { return harness.Env().Cluster().PrivateEndpoint }
	)
	BeforeAll(func(ctx SpecContext) {
		env := harness.Env()
		access, err := harness.Require[provider.GCPAPI](env).GCPAPI(ctx)
		Expect(err).NotTo(HaveOccurred())
		src := harness.Require[provider.AgentSource](env)
		vms := env.Topology().HostsWithRole(topology.RoleInVPCClient)
		if len(vms) == 0 {
			Skip("the topology has no in-VPC client VM")
		}
		vm = vms[0]
		desc := env.Cluster()
		c, err = gcp.New(ctx, gcp.Config{Project: access.Project, Location: desc.Location, Cluster: desc.Name,
			Endpoint: access.Endpoint, Options: access.Options, Timeout: 2 * time.Minute})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		instance = provider.ProjectName(env, vm.Name)
		zone, err = c.InstanceZone(ctx, instance)
		Expect(err).NotTo(HaveOccurred())
		url, sum, err := src.AgentSource(ctx)
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		Expect(c.InstallAgent(ctx, zone, instance, url, sum)).To(Succeed())
		AddReportEntry("agent installed", fmt.Sprintf("%s in %s: setMetadata, reset, announced in %.2fs", instance, zone, time.Since(start).Seconds()))
		host = c.AgentHost(zone, instance)
	}, NodeTimeout(3*time.Minute))

	It("runs a command in the VM: its address is the VM's, as the harness's own view of the host says", func(ctx SpecContext) {
		out, err := host.Run(ctx, "ip", "-4", "-o", "addr", "show")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring(" "+vm.IP.String()+"/"), "the agent runs outside %s", vm.Name)
		Expect(out).To(ContainSubstring(" 169.254.169.254/32"), "the VM has no metadata server address")
		direct, err := harness.Env().Host(vm.Name)
		Expect(err).NotTo(HaveOccurred())
		same, err := direct.Run(ctx, "ip", "-4", "-o", "addr", "show")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(same), "the agent and the provider see different interfaces at %s", vm.Name)
	}, NodeTimeout(time.Minute))

	It("reports a failing command's exit status and stderr", func(ctx SpecContext) {
		_, err := host.Run(ctx, "sh", "-c", "echo no-such-thing >&2; exit 7")
		var re *gcp.RunError
		Expect(err).To(BeAssignableToTypeOf(re))
		Expect(err.Error()).To(And(ContainSubstring("exit 7"), ContainSubstring("no-such-thing")))
	}, NodeTimeout(time.Minute))

	It("refuses a metadata request without Metadata-Flavor: Google, as GCE's server does", func(ctx SpecContext) {
		out, err := host.Run(ctx, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://169.254.169.254/computeMetadata/v1/instance/name")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("403"))
		out, err = host.Run(ctx, "curl", "-sf", "-H", "Metadata-Flavor: Google", "http://169.254.169.254/computeMetadata/v1/instance/name")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(instance))
	}, NodeTimeout(time.Minute))

	It("probes the private endpoint from the VM: reachgate probe there, the cluster CA sent as the job's input", func(ctx SpecContext) {
		ep := cluster()
		Expect(ep.IsValid()).To(BeTrue())
		res, err := host.Exec(ctx, agent.Job{Argv: []string{"sh", "-c",
			`ca=$(mktemp) && cat >"$ca" && reachgate probe --url "https://$1" --ca "$ca" --checks http,tls; rc=$?; rm -f "$ca"; exit $rc`,
			"probe", ep.String()}, Stdin: harness.Env().Cluster().CAPEM, TimeoutSec: 60})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Exit).To(Equal(0), "probe at %s: %s\n%s", vm.Name, res.Stdout, res.Stderr)
		var report map[string]any
		Expect(json.Unmarshal(res.Stdout, &report)).To(Succeed(), "probe printed: %s", res.Stdout)
		Expect(string(res.Stdout)).NotTo(ContainSubstring("BEGIN CERTIFICATE"))
	}, NodeTimeout(2*time.Minute))

	It("starts a new agent on reset and the old one is gone", func(ctx SpecContext) {
		before, err := c.GuestAttributes(ctx, zone, instance, agent.GuestNamespace+"/")
		Expect(err).NotTo(HaveOccurred())
		var old struct{ PID int }
		Expect(json.Unmarshal([]byte(before[agent.ReadyKey]), &old)).To(Succeed())
		url, sum, err := harness.Require[provider.AgentSource](harness.Env()).AgentSource(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.InstallAgent(ctx, zone, instance, url, sum)).To(Succeed())
		// A process that has exited but is not reaped yet (state Z) is gone too.
		out, err := host.Run(ctx, "sh", "-c", fmt.Sprintf(`s=$(awk '{print $3}' /proc/%d/stat 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ] && echo alive || echo gone`, old.PID))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(out)).To(Equal("gone"), "the agent of the previous boot (pid %d) still runs", old.PID)
	}, NodeTimeout(2*time.Minute))
})
