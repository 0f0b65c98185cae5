// Package psc is solution 3 for a Private Service Connect cluster: the control plane's
// internal endpoint is an address of a subnet of the cluster's own VPC, so the third-party VM
// reaches it like any subnet address once the Cloud Router announces the subnet, control plane
// global access admits traffic entering GCP in another region, and the authorized networks
// hold the third-party range.
package psc

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestPSC(t *testing.T) {
	harness.Run(t, "psc-endpoint")
}

var _ = harness.Setup("psc", "psc", topology.RoleThirdPartyClient)
