package bgpexport

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestBGPExport(t *testing.T) {
	harness.Run(t, "bgp-export")
}

var _ = harness.Setup("bgpexport", "bgp-export", topology.RoleThirdPartyClient)
