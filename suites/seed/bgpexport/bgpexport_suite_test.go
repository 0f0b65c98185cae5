// Package bgpexport is the seed suite's half for the article's Solution 2, on the bgp-export
// topology (a suite package provisions one topology): the seed variant raises the peering
// finding with the cloud's own peering state as evidence, the hardened variant none.
package bgpexport

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestSeedBGPExport(t *testing.T) {
	harness.Run(t, "seed-bgp-export")
}

var _ = harness.Setup("seedbx", "bgp-export", topology.RoleThirdPartyClient)
