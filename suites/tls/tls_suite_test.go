package tls

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestTLS(t *testing.T) {
	harness.Run(t, "tls")
}

var _ = harness.Setup("tls", "seed", topology.RoleThirdPartyClient)
