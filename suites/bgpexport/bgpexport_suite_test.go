package bgpexport

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/suites/harness"
)

func TestBGPExport(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "bgp-export")
}

var _ = harness.SetupTopology("bgpexport", "bgp-export")
