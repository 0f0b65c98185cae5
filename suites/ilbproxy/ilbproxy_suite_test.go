package ilbproxy

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestILBProxy(t *testing.T) {
	harness.Run(t, "ilb-proxy")
}

var _ = harness.Setup("ilbproxy", "seed", topology.RoleThirdPartyClient, topology.RoleInVPCClient, topology.RoleNode)
