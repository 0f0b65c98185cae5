// Package harness is the glue every suite shares: flags, the topology and the roles a suite
// needs, provisioning once per run, teardown, abilities checked before use, and the JUnit
// report (written even when provisioning fails).
package harness

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL reads best unqualified
	"github.com/onsi/ginkgo/v2/reporters"
	. "github.com/onsi/gomega" //nolint:revive

	"reachgate/fixtures"
	"reachgate/framework/checkout"
	"reachgate/framework/provider"
	_ "reachgate/framework/provider/coreonly" // registers the core-only test provider
	"reachgate/framework/provider/gcp"        // registers the gcp provider
	_ "reachgate/framework/provider/lab"      // registers the lab provider
	"reachgate/framework/topology"
	"reachgate/reports"
)

var (
	providerName = flag.String("provider", envOr("REACHGATE_PROVIDER", "lab"), "provider that realizes the topology: "+fmt.Sprint(provider.Names()))
	topologyFile = flag.String("topology", os.Getenv("REACHGATE_TOPOLOGY"), "topology file (default: the suite's embedded topology)")
	reportDir    = flag.String("report-dir", os.Getenv("REACHGATE_REPORT_DIR"), "where JUnit files go (default: <repo>/reports/out)")
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// The suite this test binary runs, as Setup declared it.
var (
	suiteName string
	embedded  string
	roles     []string
	source    string
	data      []byte
	topo      *topology.Topology
	env       provider.Environment
)

// Env is the environment provisioned for this suite.
func Env() provider.Environment { return env }

// Setup declares the suite: its name (the environment's name), the embedded topology it runs
// on unless --topology names a file (fixtures/topologies/<embedded>.yaml), and the host roles
// its specs need. It registers provisioning, teardown and reporting; call it at package level
// in the suite's _test.go: var _ = harness.Setup("baseline", "seed", topology.RoleThirdPartyClient).
func Setup(suite, embeddedTopology string, needs ...string) bool {
	suiteName, embedded, roles = suite, embeddedTopology, needs
	BeforeSuite(func(ctx SpecContext) {
		p, err := provider.Get(*providerName)
		Expect(err).NotTo(HaveOccurred())
		// Provisioning can take minutes on a cold machine: show progress on stderr as well.
		log := slog.New(slog.NewTextHandler(io.MultiWriter(os.Stderr, GinkgoWriter), nil)).With("suite", Name())
		// Lab start-up is the busiest moment of a suite: it waits for measurements in flight.
		Expect(machine.acquire(false)).To(Succeed())
		env, err = p.Provision(ctx, provider.Spec{Name: labName(), Source: source, Data: data, Log: log})
		machine.release()
		Expect(err).NotTo(HaveOccurred(), "provision %s with provider %s", source, *providerName)
	}, NodeTimeout(15*time.Minute))
	// Every spec holds the measurement lock: shared, or alone for a spec labelled quiet.
	// The hold lasts until the next spec (or the teardown) takes it again, not to the end of
	// this spec: Ginkgo runs the cleanups a container's BeforeAll deferred (removing a
	// solution) after every cleanup of the spec, so a release deferred here would let that
	// work run beside another suite's quiet measurement. The wait is outside every spec's own
	// deadline: specs bound their subject with NodeTimeout, never SpecTimeout, which would
	// count the time spent queued behind another suite's quiet spec.
	BeforeEach(func() {
		start := time.Now()
		spec := CurrentSpecReport()
		alone, raise := measureMode(spec.Labels(), spec.NumAttempts)
		Expect(machine.acquire(alone)).To(Succeed())
		if p, ok := env.(provider.Prioritizer); raise && ok {
			restore, threads := p.Prioritize(quietNice, os.Getpid())
			DeferCleanup(restore)
			how := "measuring alone"
			if !alone {
				how = "measuring beside other suites (alone only if this fails)"
			}
			AddReportEntry("quiet", fmt.Sprintf("%s; %d threads of this suite and its lab at nice %d", how, threads, quietNice), ReportEntryVisibilityNever)
		}
		if alone && spec.NumAttempts > 1 {
			AddReportEntry("measured alone", fmt.Sprintf("attempt %d: the measurement beside other suites failed (see the first attempt's failure); this one runs alone and is the verdict", spec.NumAttempts))
		}
		if waited := time.Since(start); waited >= time.Second {
			AddReportEntry("measurement lock", fmt.Sprintf("waited %.1fs for a quiet spec elsewhere on the machine", waited.Seconds()), ReportEntryVisibilityNever)
		}
	})
	// A failing spec carries the tails of the control plane's logs.
	AfterEach(func() {
		if !CurrentSpecReport().Failed() || env == nil {
			return
		}
		if src, ok := env.(provider.LogSource); ok {
			for name, tail := range src.LogTails(40) {
				AddReportEntry("log: "+name, tail)
			}
		}
	})
	AfterSuite(func(ctx SpecContext) {
		if env != nil {
			Expect(machine.acquire(false)).To(Succeed())
			defer machine.release()
			Expect(env.Teardown(context.WithoutCancel(ctx))).To(Succeed())
		}
	}, NodeTimeout(15*time.Minute))
	ReportAfterSuite("junit", func(r Report) {
		dir := *reportDir
		if dir == "" {
			root, err := checkout.Root()
			Expect(err).NotTo(HaveOccurred())
			dir = filepath.Join(root, "reports", "out")
		}
		props := []reports.Property{{Name: "provider", Value: *providerName}, {Name: "topology", Value: source},
			{Name: reports.PropertyProvenOn, Value: provenOn()}}
		s := reports.FromGinkgo(r, Name(), props)
		Expect(reports.WriteSuite(filepath.Join(dir, "junit", Name()+".xml"), s)).To(Succeed())
		Expect(reports.Merge(filepath.Join(dir, "junit"), filepath.Join(dir, "junit.xml"))).To(Succeed())
		// The suite's own Ginkgo JSON, so `reachgate report` finds its measurements and
		// findings (a combined ginkgo.json from the CLI takes precedence).
		Expect(reporters.GenerateJSONReport(r, filepath.Join(dir, "ginkgo", Name()+".json"))).To(Succeed())
	})
	return true
}

// labName is the environment's name: the suite's, or with --topology the suite's and the
// topology's, so one suite on two address plans can run side by side. Names longer than a
// lab's 20 characters keep a prefix and a hash of the whole.
func labName() string {
	n := suiteName
	if *topologyFile != "" && topo != nil {
		n += "-" + topo.Name
	}
	if standIn() {
		n += "-si"
	}
	if n == suiteName {
		return n
	}
	n = strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(n)), "-")
	if len(n) <= 20 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	return strings.TrimRight(n[:12], "-") + "-" + fmt.Sprintf("%07x", h.Sum32())[:7]
}

// provenOn is where this run proves its specs (reports.ProvenLab, ProvenLabAPI, ProvenGCP).
func provenOn() string {
	switch {
	case *providerName == "gcp" && os.Getenv(gcp.LabEnv) != "":
		return reports.ProvenLabAPI
	case *providerName == "gcp":
		return reports.ProvenGCP
	}
	return reports.ProvenLab
}

// Name is the suite's name in reports: the name given to Setup, with "@<topology name>"
// when --topology chose another file than the suite's own, and "-on-<provider>" on a
// provider other than the lab.
func Name() string {
	name := suiteName
	if *topologyFile != "" && topo != nil {
		name += "@" + topo.Name
	}
	if *providerName != "lab" {
		name += "-on-" + *providerName
	}
	if standIn() {
		name += "-" + gcp.StandIn
	}
	return name
}

// standIn reports whether the run's third-party cloud is a stand-in VPC of the project against
// a bare lab (REACHGATE_GCP_THIRD_PARTY=stand-in): its environment and reports are named apart
// from the same suite with the lab's third-party side.
func standIn() bool {
	return *providerName == "gcp" && os.Getenv(gcp.ThirdPartyEnv) == gcp.StandIn
}

// Run is the suite's Test function (title is Ginkgo's suite description): it reads the topology and checks that it has a host for
// every role the suite needs before anything is provisioned; a topology that does not exits
// with status 2 and the file, line and fix. Then it runs the specs.
func Run(t *testing.T, title string) {
	if err := load(); err != nil {
		fmt.Fprintf(os.Stderr, "reachgate: %v\n", err)
		os.Exit(2)
	}
	RegisterFailHandler(Fail)
	if *topologyFile != "" {
		title += "@" + topo.Name
	}
	if *providerName != "lab" {
		title += "-on-" + *providerName // as Name(): a report tells the runs apart
	}
	if standIn() {
		title += "-" + gcp.StandIn
	}
	RunSpecs(t, title)
}

// load reads and parses the suite's topology and checks its roles.
func load() error {
	if suiteName == "" {
		return fmt.Errorf("the suite calls harness.Run without harness.Setup")
	}
	var err error
	if *topologyFile != "" {
		source = *topologyFile
		data, err = os.ReadFile(*topologyFile)
	} else {
		source = "embedded:fixtures/topologies/" + embedded + ".yaml"
		data, err = fixtures.Topology(embedded)
	}
	if err != nil {
		return fmt.Errorf("read topology for suite %s: %w", suiteName, err)
	}
	if topo, err = topology.Parse(source, data); err != nil {
		return err
	}
	return topo.RequireRoles("suite "+suiteName, roles...)
}

// Topology is the suite's topology as parsed before provisioning.
func Topology() *topology.Topology { return topo }

// Actor is the first host with the role, in file order. Run has checked that one exists for
// every role the suite declared; a role it did not declare fails the spec.
func Actor(role string) provider.Host {
	GinkgoHelper()
	hs := env.Topology().HostsWithRole(role)
	Expect(hs).NotTo(BeEmpty(), "no host has role %s in %s (declare it in the suite's harness.Setup)", role, source)
	h, err := env.Host(hs[0].Name)
	Expect(err).NotTo(HaveOccurred())
	return h
}

// Require returns v as the ability T, or skips the spec: "provider X cannot <ability>".
// Suites call it instead of asserting the type themselves, so a provider without the
// ability skips what needs it, with the reason, and never panics.
func Require[T any](v any) T {
	GinkgoHelper()
	a, ok := v.(T)
	if !ok {
		Skip(fmt.Sprintf("provider %s cannot %s", *providerName, provider.AbilityText[T]()))
	}
	return a
}

// RequireSolution skips unless the provider can stand a solution up: admin access to the
// cluster and the cloud API (both solutions' Apply need them). It returns the cloud.
func RequireSolution(env provider.Environment) provider.Cloud {
	GinkgoHelper()
	Require[provider.KubeAdmin](env)
	return Require[provider.CloudAccess](env).Cloud()
}
