package tls

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

func TestTLS(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "tls")
}

var _ = harness.Setup("tls")

// The suite's own Ginkgo JSON report, so `reachgate report` finds its measurements when the
// suite runs alone (a combined ginkgo.json from the CLI takes precedence).
var _ = ReportAfterSuite("ginkgo json", func(r Report) {
	dir := os.Getenv("REACHGATE_REPORT_DIR")
	if dir == "" {
		root, err := checkout.Root()
		Expect(err).NotTo(HaveOccurred())
		dir = filepath.Join(root, "reports", "out")
	}
	Expect(reporters.GenerateJSONReport(r, filepath.Join(dir, "ginkgo", "tls.json"))).To(Succeed())
})
