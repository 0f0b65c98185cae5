// Package seed runs the article's steps as written (the seed variants) on a provisioned
// environment and asserts that each defect they carry is raised as a finding of
// reachgate/framework/findings, with the evidence observed live; the hardened variants,
// checked by the same detectors, raise none. A finding that stops appearing fails the suite,
// so the catalog cannot rot silently.
package seed

import (
	"testing"

	"reachgate/framework/topology"
	"reachgate/suites/harness"
)

func TestSeed(t *testing.T) {
	harness.Run(t, "seed")
}

// The lab is named after the suite; "seed" is the topology's own name (the default of
// `reachgate lab up`), so the suite takes another.
var _ = harness.Setup("seedfind", "seed", topology.RoleThirdPartyClient)
