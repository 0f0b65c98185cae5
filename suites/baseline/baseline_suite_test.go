package baseline

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestBaseline(t *testing.T) {
	harness.Run(t, "baseline")
}

var _ = harness.Setup("baseline", "seed", topology.RoleThirdPartyClient, topology.RoleNode)
