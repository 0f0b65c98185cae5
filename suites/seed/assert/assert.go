// Package assert holds the seed suites' assertions on findings: each asserted finding is
// recorded as a report entry, so results.json and report.html list it with its evidence.
package assert

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // Ginkgo's DSL reads best unqualified
	. "github.com/onsi/gomega"    //nolint:revive

	"reachgate/framework/findings"
	"reachgate/reports"
)

// Finding asserts that fs holds a finding id whose evidence contains every one of texts,
// records it (reports.EntryFinding) and returns it.
func Finding(fs []findings.Finding, id string, texts ...string) findings.Finding {
	GinkgoHelper()
	var seen []string
	for _, f := range fs {
		if f.ID != id {
			continue
		}
		ok := true
		for _, t := range texts {
			ok = ok && strings.Contains(f.Evidence.Text, t)
		}
		if ok {
			AddReportEntry(reports.EntryFinding, f, ReportEntryVisibilityAlways)
			return f
		}
		seen = append(seen, f.Evidence.Text)
	}
	Fail(fmt.Sprintf("finding %s with evidence containing %q not raised (%s raised with evidence %q); all findings:\n%s",
		id, texts, id, seen, List(fs)))
	return findings.Finding{}
}

// None asserts that the detectors raised nothing on what.
func None(fs []findings.Finding, what string) {
	GinkgoHelper()
	Expect(fs).To(BeEmpty(), "%s raised findings:\n%s", what, List(fs))
}

// List prints findings one a line with their evidence.
func List(fs []findings.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s (evidence: %s)\n", f, f.Evidence.Text)
	}
	return b.String()
}
