// Package harness is the glue every suite shares: flags, provisioning once per run,
// teardown, and the JUnit report (written even when provisioning fails).
package harness

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL reads best unqualified
	"github.com/onsi/ginkgo/v2/reporters"
	. "github.com/onsi/gomega" //nolint:revive

	"reachgate/fixtures"
	"reachgate/framework/checkout"
	"reachgate/framework/provider"
	_ "reachgate/framework/provider/lab" // registers the lab provider
	"reachgate/reports"
)

var (
	providerName = flag.String("provider", envOr("REACHGATE_PROVIDER", "lab"), "provider that realizes the topology: "+fmt.Sprint(provider.Names()))
	topologyFile = flag.String("topology", os.Getenv("REACHGATE_TOPOLOGY"), "topology file (default: embedded seed)")
	reportDir    = flag.String("report-dir", os.Getenv("REACHGATE_REPORT_DIR"), "where JUnit files go (default: <repo>/reports/out)")
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var env provider.Environment

// Env is the environment provisioned for this suite.
func Env() provider.Environment { return env }

// Setup registers provisioning, teardown and reporting for a suite on the seed topology;
// call it at package level in the suite's _test.go (var _ = harness.Setup("baseline")).
func Setup(suite string) bool { return SetupTopology(suite, "seed") }

// SetupTopology is Setup on another embedded topology (fixtures/topologies/<name>.yaml),
// unless --topology names a file.
func SetupTopology(suite, embedded string) bool {
	BeforeSuite(func(ctx SpecContext) {
		source, data := "embedded:fixtures/topologies/"+embedded+".yaml", []byte(nil)
		var err error
		if *topologyFile != "" {
			source = *topologyFile
			data, err = os.ReadFile(*topologyFile)
		} else {
			data, err = fixtures.Topology(embedded)
		}
		Expect(err).NotTo(HaveOccurred(), "read topology")
		p, err := provider.Get(*providerName)
		Expect(err).NotTo(HaveOccurred())
		// Provisioning can take minutes on a cold machine: show progress on stderr as well.
		log := slog.New(slog.NewTextHandler(io.MultiWriter(os.Stderr, GinkgoWriter), nil)).With("suite", suite)
		env, err = p.Provision(ctx, provider.Spec{Name: suite, Source: source, Data: data, Log: log})
		Expect(err).NotTo(HaveOccurred(), "provision %s with provider %s", source, *providerName)
	}, NodeTimeout(15*time.Minute))
	// A failing spec carries the tails of the control plane's logs.
	AfterEach(func() {
		if !CurrentSpecReport().Failed() {
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
			Expect(env.Teardown(context.WithoutCancel(ctx))).To(Succeed())
		}
	}, NodeTimeout(time.Minute))
	ReportAfterSuite("junit", func(r Report) {
		dir := *reportDir
		if dir == "" {
			root, err := checkout.Root()
			Expect(err).NotTo(HaveOccurred())
			dir = filepath.Join(root, "reports", "out")
		}
		props := []reports.Property{{Name: "provider", Value: *providerName}, {Name: "topology", Value: topologyName()}}
		s := reports.FromGinkgo(r, suite, props)
		Expect(reports.WriteSuite(filepath.Join(dir, "junit", suite+".xml"), s)).To(Succeed())
		Expect(reports.Merge(filepath.Join(dir, "junit"), filepath.Join(dir, "junit.xml"))).To(Succeed())
		// The suite's own Ginkgo JSON, so `reachgate report` finds its measurements and
		// findings when it runs alone (a combined ginkgo.json from the CLI takes precedence).
		Expect(reporters.GenerateJSONReport(r, filepath.Join(dir, "ginkgo", suite+".json"))).To(Succeed())
	})
	return true
}

func topologyName() string {
	if *topologyFile != "" {
		return *topologyFile
	}
	return "seed"
}
