package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"reachgate/framework/probe"
)

// EntryFootprint is the report entry a solution's suite records after Apply: what the
// solution made (a Footprint).
const EntryFootprint = "reachgate.footprint"

// LabelFailureMode marks a spec that proves one way the solution fails (a timeout or a
// refusal for a stated reason); the comparison counts them.
const LabelFailureMode = "failure-mode"

// Footprint is what one Apply of a solution made: the cloud resources it created or the
// settings it changed, and the Kubernetes objects it created (measured: the cluster's objects
// after Apply that were not there before).
type Footprint struct {
	Labels Labels   `json:"matrix"`
	Cloud  []string `json:"cloud"`
	Kube   []string `json:"kube"`
}

// CompareRow is one solution (and proxy) in the comparison of the run's solutions.
type CompareRow struct {
	Solution string `json:"solution"`
	Proxy    string `json:"proxy,omitempty"`
	// Verdict is pass when every spec of the row ran and passed, else FAIL.
	Verdict string `json:"verdict"`
	Specs   int    `json:"specs"`
	Passed  int    `json:"passed"`
	// P50 and P95 are GET /version from the third-party client: the worst p95 of the row's
	// probe measurements (0 when none was taken), over Measured runs.
	P50      probe.Ms `json:"p50Ms"`
	P95      probe.Ms `json:"p95Ms"`
	Measured int      `json:"measured"`
	// Cloud and Kube count the footprint's items (-1: no footprint recorded).
	Cloud int `json:"cloudResources"`
	Kube  int `json:"kubeObjects"`
	// FailureModes are the specs labelled failure-mode that passed.
	FailureModes []string `json:"failureModes,omitempty"`
	// Findings counts the findings recorded for this form of the solution; SeedFindings those
	// of its seed variant (the article's steps as written).
	Findings     int `json:"findings"`
	SeedFindings int `json:"seedFindings"`
}

// Key is "solution" or "solution (proxy)".
func (r CompareRow) Key() string {
	if r.Proxy == "" {
		return r.Solution
	}
	return r.Solution + " (" + r.Proxy + ")"
}

// compared reports whether l belongs in the comparison: a solution's recommended form (not
// the seed variant, which reports show by its findings).
func compared(l Labels, known []string) bool {
	return l.Variant != "seed" && slices.Contains(known, l.Solution)
}

// Compare puts the run's solutions side by side: one row per solution and proxy that left a
// footprint, in the order solutions first appear.
func Compare(res *Results) []CompareRow {
	var known []string
	for _, f := range res.Footprints {
		if !slices.Contains(known, f.Labels.Solution) {
			known = append(known, f.Labels.Solution)
		}
	}
	rows := map[string]*CompareRow{}
	var order []string
	row := func(l Labels) *CompareRow {
		k := l.Solution + "\x00" + l.Proxy
		if rows[k] == nil {
			rows[k] = &CompareRow{Solution: l.Solution, Proxy: l.Proxy, Cloud: -1, Kube: -1}
			order = append(order, k)
		}
		return rows[k]
	}
	for _, f := range res.Footprints {
		r := row(f.Labels)
		r.Cloud, r.Kube = max(r.Cloud, len(f.Cloud)), max(r.Kube, len(f.Kube))
	}
	for _, su := range res.Suites {
		for _, s := range su.Specs {
			if !compared(s.Matrix, known) || s.State == "skipped" || s.State == "pending" {
				continue
			}
			r := row(s.Matrix)
			r.Specs++
			if s.State == "passed" {
				r.Passed++
				// The same spec on another topology proves the same failure mode.
				if name := specText(s.Name); slices.Contains(s.Labels, LabelFailureMode) && !slices.Contains(r.FailureModes, name) {
					r.FailureModes = append(r.FailureModes, name)
				}
			}
		}
	}
	for _, m := range res.Measurements {
		// Only measurements on the lab's own links: a WAN profile measures the profile.
		if !compared(m.Labels, known) || m.Probe == nil || (m.Probe.Profile != "" && m.Probe.Profile != "none") {
			continue
		}
		for _, l := range m.Probe.Latency {
			if l.Path != "/version" {
				continue
			}
			r := row(m.Labels)
			r.Measured++
			if l.P95 > r.P95 {
				r.P50, r.P95 = l.P50, l.P95
			}
		}
	}
	var out []CompareRow
	for _, k := range order {
		r := rows[k]
		r.Verdict = "FAIL"
		if r.Specs > 0 && r.Passed == r.Specs {
			r.Verdict = "pass"
		}
		for _, f := range res.Findings {
			switch {
			case f.Solution != r.Solution:
			case f.Variant == "seed":
				r.SeedFindings++
			case r.Proxy == "" || f.Proxy == "" || f.Proxy == r.Proxy:
				r.Findings++
			}
		}
		out = append(out, *r)
	}
	return out
}

// WriteCompare prints the comparison as a table.
func WriteCompare(w io.Writer, rows []CompareRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no solution recorded a footprint in this run (run make e2e-local, or the solution suites)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOLUTION\tVERDICT\tSPECS\tGET /version p50/p95\tCLOUD\tKUBE\tFAILURE MODES\tFINDINGS (THIS / SEED FORM)")
	for _, r := range rows {
		lat := "not measured"
		if r.Measured > 0 {
			lat = fmt.Sprintf("%.1f / %.1f ms", float64(r.P50), float64(r.P95))
		}
		count := func(n int) string {
			if n < 0 {
				return "?"
			}
			return fmt.Sprint(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%d\t%d / %d\n", r.Key(), r.Verdict, r.Passed, r.Specs, lat, count(r.Cloud), count(r.Kube), len(r.FailureModes), r.Findings, r.SeedFindings)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, r := range rows {
		for _, f := range r.FailureModes {
			notes = append(notes, "  "+r.Key()+": "+f)
		}
	}
	if len(notes) > 0 {
		_, err := fmt.Fprintln(w, "\nfailure modes proven:\n"+strings.Join(notes, "\n"))
		return err
	}
	return nil
}

// specText is a spec's name without the "[label, …]" suffix case names carry.
func specText(name string) string {
	if i := strings.LastIndex(name, " ["); i >= 0 && strings.HasSuffix(name, "]") {
		return name[:i]
	}
	return name
}
