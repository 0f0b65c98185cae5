package harness

import (
	"net/netip"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/provider"
)

// ModelSays asserts the provider's model verdict for from → to and that its reason contains
// reason; the explanation is attached to the spec. A provider without a model only records
// that it has none.
func ModelSays(from string, to netip.AddrPort, reachable bool, reason string) {
	GinkgoHelper()
	ex, ok := Env().(provider.Explainer)
	if !ok {
		AddReportEntry("model: "+from+" -> "+to.String(), "provider cannot "+provider.AbilityText[provider.Explainer]())
		return
	}
	got, why, err := ex.Explain(from, to)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("model: "+from+" -> "+to.String(), why)
	Expect(got).To(Equal(reachable), why)
	Expect(why).To(ContainSubstring(reason))
}
