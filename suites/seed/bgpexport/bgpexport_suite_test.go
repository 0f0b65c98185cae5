// Package bgpexport is the seed suite's half for the article's Solution 2, on the bgp-export
// topology (a suite package provisions one topology): the seed variant raises the peering
// finding with the cloud's own peering state as evidence, the hardened variant none.
package bgpexport

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	. "github.com/onsi/gomega"

	"reachgate/framework/checkout"
	"reachgate/suites/harness"
)

func TestSeedBGPExport(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "seed-bgp-export")
}

var _ = harness.SetupTopology("seedbx", "bgp-export")

// The suite's own Ginkgo JSON report, so `reachgate report` lists its findings when the
// suite runs alone.
var _ = ReportAfterSuite("ginkgo json", func(r Report) {
	dir := os.Getenv("REACHGATE_REPORT_DIR")
	if dir == "" {
		root, err := checkout.Root()
		Expect(err).NotTo(HaveOccurred())
		dir = filepath.Join(root, "reports", "out")
	}
	Expect(reporters.GenerateJSONReport(r, filepath.Join(dir, "ginkgo", "seedbx.json"))).To(Succeed())
})
