// Package bgpexport is the seed suite's half for the article's Solution 2, on the bgp-export
// topology (a suite package provisions one topology): the seed variant raises the peering
// finding with the cloud's own peering state as evidence, the hardened variant none.
package bgpexport

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/suites/harness"
)

func TestSeedBGPExport(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "seed-bgp-export")
}

var _ = harness.SetupTopology("seedbx", "bgp-export")
