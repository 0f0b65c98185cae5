// Package dnsendpoint is solution 4: the cluster's DNS-based control plane endpoint, served by
// Google's API front end over Private Google Access for on-premises hosts. The third-party VM
// resolves the gke.goog name into private.googleapis.com, reaches it over the interconnect
// or VPN once the Cloud Router announces that range, and the front end admits it by the
// token's IAM binding, not by its address.
package dnsendpoint

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestDNSEndpoint(t *testing.T) {
	harness.Run(t, "dns-endpoint")
}

var _ = harness.Setup("dnsendpoint", "psc", topology.RoleThirdPartyClient)
