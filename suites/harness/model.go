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

// DNSModelSays asserts the provider's model verdict for from → the cluster's DNS-based
// endpoint and that its reason contains reason; a provider without that model only records it.
func DNSModelSays(from string, reachable bool, reason string) {
	GinkgoHelper()
	ex, ok := Env().(provider.DNSEndpointExplainer)
	if !ok {
		AddReportEntry("model: "+from+" -> DNS endpoint", "provider cannot "+provider.AbilityText[provider.DNSEndpointExplainer]())
		return
	}
	got, why, err := ex.ExplainDNSEndpoint(from)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("model: "+from+" -> DNS endpoint", why)
	Expect(got).To(Equal(reachable), why)
	Expect(why).To(ContainSubstring(reason))
}
