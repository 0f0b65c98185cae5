package latency

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestLatency(t *testing.T) {
	harness.Run(t, "latency")
}

var _ = harness.Setup("latency", "seed", topology.RoleThirdPartyClient)
