package psa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/cloud"
	"reachgate/framework/pki"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/bgpexport"
	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

var _ = Describe("psa: Memorystore for Redis over Private Service Access", Label("solution", "psa", "hardened"), Ordered, func() {
	var (
		env     provider.Environment
		vc      provider.VPNCloud
		tpVM    provider.Host
		svc     cloud.ManagedService
		addr    netip.AddrPort
		res     *bgpexport.Result
		caFile  string
		keyFile string
	)
	request := func() probe.RedisRequest {
		return probe.RedisRequest{Addr: addr.String(), TLS: svc.TLS, CAPEM: svc.CAPEM, Auth: svc.Auth, Timeout: 2 * time.Second}
	}
	// ping is PING from the third-party client with the instance's CA and AUTH string.
	ping := func(ctx context.Context) error {
		c, err := probe.DialRedis(ctx, tpVM, request())
		if err != nil {
			return err
		}
		defer c.Close()
		reply, err := c.Do("PING")
		if err == nil && reply != "PONG" {
			err = fmt.Errorf("PING answered %q", reply)
		}
		return err
	}

	BeforeAll(func(ctx SpecContext) {
		env = harness.Env()
		vc = harness.Require[provider.VPNCloud](harness.RequireSolution(env))
		ms := harness.Require[provider.ManagedServices](env)
		tpVM = harness.Actor(topology.RoleThirdPartyClient)
		placer := harness.Require[provider.FilePlacer](tpVM)
		instance := env.Topology().HostsWithRole(topology.RoleManagedService)[0]
		var err error
		svc, err = ms.ManagedService(ctx, instance.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.Kind).To(Equal(topology.ServiceRedis))
		addr = netip.AddrPortFrom(svc.Host, uint16(svc.Port))
		// What Memorystore hands a client: the server CA and the AUTH string, as files on the VM.
		caFile, err = placer.PlaceFile(ctx, "redis-ca.pem", svc.CAPEM)
		Expect(err).NotTo(HaveOccurred())
		keyFile, err = placer.PlaceFile(ctx, "redis-auth", []byte(svc.Auth))
		Expect(err).NotTo(HaveOccurred())
		// The baseline: nothing joins the third-party cloud to the producer VPC yet.
		Expect(probe.TCP(ctx, tpVM, addr.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
		harness.ModelSays(tpVM.Name(), addr, false, "")
		log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		res, err = bgpexport.Apply(ctx, env, bgpexport.Options{Variant: bgpexport.Hardened, Service: topology.ServiceRedis, Log: log})
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("apply seconds", fmt.Sprintf("%.2f", res.Seconds))
		DeferCleanup(func(ctx SpecContext) {
			Expect(bgpexport.Remove(ctx, env, bgpexport.Options{Log: log})).To(Succeed())
			p, err := vc.GetPeering(ctx, res.Plan.Network, res.Plan.ServicePeering)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.ExportCustomRoutes).To(Equal(res.Plan.ServiceFlags.ExportCustomRoutes), "Remove restores the servicenetworking peering")
			Expect(probe.TCP(ctx, tpVM, addr.String(), 2*time.Second).Outcome).To(Equal(probe.Timeout))
		}, NodeTimeout(60*time.Second))
		Eventually(ping).WithContext(ctx).WithTimeout(15 * time.Second).Should(Succeed())
	}, NodeTimeout(2*time.Minute))

	It("answers PONG to redis-cli at the third-party VM, over TLS verified with the instance's CA and with AUTH", Label("redis-cli"), func(ctx SpecContext) {
		args := []string{"redis-cli", "-h", svc.Host.String(), "-p", strconv.Itoa(svc.Port)}
		if svc.TLS {
			args = append(args, "--tls", "--cacert", caFile)
		}
		// The AUTH string is read from its file into REDISCLI_AUTH: it never is an argument.
		argv := append([]string{"sh", "-c", `REDISCLI_AUTH="$(cat "$0")" exec "$@" PING`, keyFile}, args...)
		out, err := tpVM.Run(ctx, argv...)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(Equal("PONG"))
	}, NodeTimeout(20*time.Second))

	It("stores and reads back a value (SET/GET round trip)", func(ctx SpecContext) {
		c, err := probe.DialRedis(ctx, tpVM, request())
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		value := fmt.Sprintf("from %s at %d", tpVM.Name(), time.Now().UnixNano())
		Expect(c.Do("SET", "reachgate:psa", value)).To(Equal("OK"))
		Expect(c.Do("GET", "reachgate:psa")).To(Equal(value))
		Expect(c.Do("DEL", "reachgate:psa")).To(Equal("1"))
	}, NodeTimeout(20*time.Second))

	It("refuses a wrong AUTH string in Redis itself (the network delivers it)", func(ctx SpecContext) {
		if svc.Auth == "" {
			Skip("the instance has AUTH off")
		}
		r := request()
		r.Auth = "not-the-" + "instance-auth-string"
		_, err := probe.DialRedis(ctx, tpVM, r)
		var re *probe.RedisError
		Expect(errors.As(err, &re)).To(BeTrue(), "want Redis's own error reply, got %v", err)
		Expect(re.Msg).To(HavePrefix("WRONGPASS"))
	}, NodeTimeout(20*time.Second))

	It("fails the TLS handshake for a client that trusts another CA", func(ctx SpecContext) {
		if !svc.TLS {
			Skip("the instance has in-transit encryption off")
		}
		other, err := pki.NewCA("not the instance's CA", time.Hour)
		Expect(err).NotTo(HaveOccurred())
		r := request()
		r.CAPEM = other.CertPEM
		_, err = probe.DialRedis(ctx, tpVM, r)
		Expect(err).To(MatchError(ContainSubstring("TLS handshake")))
		Expect(err).To(MatchError(ContainSubstring("certificate signed by unknown authority")))
	}, NodeTimeout(20*time.Second))

	negative := func(ctx context.Context, change, restore func(context.Context) error, reason string) {
		Expect(change(ctx)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(restore(ctx)).To(Succeed()) })
		Eventually(func(ctx context.Context) probe.Outcome {
			return probe.TCP(ctx, tpVM, addr.String(), time.Second).Outcome
		}).WithContext(ctx).WithTimeout(15*time.Second).Should(Equal(probe.Timeout), "the client must time out")
		harness.ModelSays(tpVM.Name(), addr, false, reason)
		Expect(restore(ctx)).To(Succeed())
		Eventually(ping).WithContext(ctx).WithTimeout(15*time.Second).Should(Succeed(), "restored, Redis must answer again")
		harness.ModelSays(tpVM.Name(), addr, true, "")
	}

	It("times out when the servicenetworking peering does not export custom routes (the producer cannot answer)", func(ctx SpecContext) {
		set := func(export bool) func(context.Context) error {
			return func(ctx context.Context) error {
				p, err := vc.GetPeering(ctx, res.Plan.Network, res.Plan.ServicePeering)
				if err != nil {
					return err
				}
				p.ExportCustomRoutes = export
				return vc.UpdatePeering(ctx, p)
			}
		}
		negative(ctx, set(false), set(true), "exportCustomRoutes is false on "+res.Plan.Network+"'s side")
	}, NodeTimeout(60*time.Second))

	It("times out when the Cloud Router does not advertise the allocated range (only the master range)", func(ctx SpecContext) {
		rt, err := vc.GetRouter(ctx, res.Plan.Network, res.Plan.Router)
		Expect(err).NotTo(HaveOccurred())
		full := rt.Advertise
		without := full
		without.Ranges = nil
		for _, r := range full.Ranges {
			covered := false
			for _, a := range res.Plan.ServiceRanges {
				covered = covered || a.Overlaps(r)
			}
			if !covered {
				without.Ranges = append(without.Ranges, r)
			}
		}
		set := func(a topology.Advertisement) func(context.Context) error {
			return func(ctx context.Context) error {
				return vc.PatchRouter(ctx, cloud.RouterPatch{Network: res.Plan.Network, Router: res.Plan.Router, Advertise: &a})
			}
		}
		negative(ctx, set(without), set(full), "does not announce")
	}, NodeTimeout(60*time.Second))

	It("measures PING from the third-party VM (p50/p95 of 200 over one TLS connection)", Label("latency", harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		lat, err := probe.RedisPingLatency(ctx, tpVM, request(), 200)
		Expect(err).NotTo(HaveOccurred())
		Expect(lat.Errors).To(BeZero(), lat.FirstError)
		AddReportEntry("redis PING", fmt.Sprintf("p50 %s, p95 %s, p99 %s over %d", lat.P50, lat.P95, lat.P99, lat.Samples))
		// A PING is one round trip inside the lab's unimpaired links: well under the
		// /version budget's 20 ms.
		Expect(lat.P95).To(And(BeNumerically(">", 0), BeNumerically("<", 20)))
	}, NodeTimeout(60*time.Second))

	It("measures PING over a cross-region WAN on the VPN: one round trip per PING, no stall", Label("latency", harness.QuietLabel, harness.BesideLabel), FlakeAttempts(2), func(ctx SpecContext) {
		wan := harness.Require[provider.WANEmulator](env)
		up := env.Topology().Uplink(env.Topology().Host(tpVM.Name()).VPC)
		Expect(up).NotTo(BeNil(), "no interconnect or VPN joins %s's VPC to GCP", tpVM.Name())
		// The profile applies to every tunnel's underlay; BGP keeps its sessions (its hold
		// timer is far above the RTT), so the PINGs measure the WAN, not a reconvergence.
		const profile, rtt = "cross-region", 30.0
		Expect(wan.SetImpairment(ctx, up.Name, profile)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(wan.SetImpairment(ctx, up.Name, "none")).To(Succeed())
		}, NodeTimeout(30*time.Second))
		lat, err := probe.RedisPingLatency(ctx, tpVM, request(), 200)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("redis PING "+profile, fmt.Sprintf("p50 %s, p95 %s, p99 %s, max %s over %d (link %s)", lat.P50, lat.P95, lat.P99, lat.Max, lat.Samples, up.Name))
		// Every PING answers (a stalled tunnel shows as a 2 s timeout here), the median is the
		// profile's round trip, and no PING waits for a neighbour's ARP retry (a second or
		// more); the tail below that depends on the machine's load, not on the path.
		Expect(lat.Errors).To(BeZero(), lat.FirstError)
		Expect(float64(lat.P50)).To(BeNumerically("~", rtt+1, rtt*0.15))
		Expect(float64(lat.Max)).To(BeNumerically("<", 500))
	}, NodeTimeout(90*time.Second))
})
