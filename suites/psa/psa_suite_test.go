// Package psa is the article's footnote after Solution 2: the same route export that reaches the
// private control plane reaches a Google-managed service over Private Service Access
// (Memorystore for Redis), once the Cloud Router advertises the allocated range and the
// consumer VPC's side of servicenetworking-googleapis-com exports custom routes.
package psa

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestPSA(t *testing.T) {
	harness.Run(t, "psa")
}

var _ = harness.Setup("psa", "bgp-export-psa", topology.RoleThirdPartyClient, topology.RoleManagedService)
