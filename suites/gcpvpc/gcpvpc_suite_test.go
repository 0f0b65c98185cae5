package gcpvpc

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestGCPVPC(t *testing.T) {
	harness.Run(t, "gcpvpc")
}

var _ = harness.Setup("gcpvpc", "vpc-vms", topology.RoleThirdPartyClient, topology.RoleInVPCClient)
