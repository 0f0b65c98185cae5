package ilbproxy

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/suites/harness"
)

func TestILBProxy(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ilb-proxy")
}

var _ = harness.Setup("ilbproxy")
