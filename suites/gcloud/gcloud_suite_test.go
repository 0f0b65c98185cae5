package gcloud

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestGcloud(t *testing.T) {
	harness.Run(t, "gcloud")
}

var _ = harness.Setup("gcloud", "bgp-export", topology.RoleThirdPartyClient, topology.RoleNode)
