package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"reachgate/framework/probe"
)

// Report entry names specs use to hand data to results.json (AddReportEntry(name, value)).
// Ginkgo's JSON report keeps each value as JSON, so nothing is parsed back from text.
const (
	EntryProbe   = "reachgate.probe"   // a *probe.Report
	EntryChecks  = "reachgate.checks"  // probe.Checks
	EntryBudget  = "reachgate.budget"  // probe.Verdicts
	EntryFinding = "reachgate.finding" // a Finding
	EntryLabels  = "reachgate.labels"  // a Labels: overrides what the spec's labels say
)

// ResultsSchema names the results.json format. v1.1 adds "timing" to v1; v1.2 adds
// "footprints" and "compare", and "expected" to checks; v1.3 adds "fidelity" and suites'
// "provenOn"; each changes nothing else: a reader of v1 can read v1.3.
const ResultsSchema = "reachgate.dev/results/v1.3"

// Results is results.json.
type Results struct {
	Schema       string        `json:"schema"`
	Meta         Meta          `json:"meta"`
	Summary      Summary       `json:"summary"`
	Suites       []SuiteResult `json:"suites"`
	Measurements []Measurement `json:"measurements"`
	Findings     []Finding     `json:"findings"`
	// Timing is how long each suite, its lab's setup and teardown, and the slowest specs
	// took; absent when no suite ran.
	Timing *Timing `json:"timing,omitempty"`
	// Gate holds the gate checks and predictions recorded in the report directory.
	Gate []GateRun `json:"gate,omitempty"`
	// Footprints are what each solution's Apply made (EntryFootprint); Compare puts the
	// solutions side by side (see Compare).
	Footprints []Footprint  `json:"footprints,omitempty"`
	Compare    []CompareRow `json:"compare,omitempty"`
	// Fidelity says, for each spec that passed, where it has been proven: the lab, the lab
	// through its GCP API, GCP (with the date of the last nightly run that passed it).
	Fidelity []FidelityRow `json:"fidelity,omitempty"`
}

// Meta describes the run.
type Meta struct {
	Generated time.Time `json:"generated"`
	Started   time.Time `json:"started,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	DurationS float64   `json:"durationSeconds"`
	Host      string    `json:"host"`
	GoVersion string    `json:"goVersion"`
	Commit    string    `json:"commit,omitempty"`
	Provider  string    `json:"provider,omitempty"`
	Topology  string    `json:"topology,omitempty"`
	// Source names the files results.json was built from.
	Source []string `json:"source"`
}

// Summary counts specs by state.
type Summary struct {
	Specs   int `json:"specs"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Labels place a spec in the solution × check matrix.
type Labels struct {
	Solution string `json:"solution,omitempty"`
	Variant  string `json:"variant,omitempty"`
	Proxy    string `json:"proxy,omitempty"`
}

// Key is "solution/variant/proxy" with "-" for what is unset.
func (l Labels) Key() string {
	part := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return part(l.Solution) + " / " + part(l.Variant) + " / " + part(l.Proxy)
}

// SuiteResult is one suite.
type SuiteResult struct {
	Name      string  `json:"name"`
	Path      string  `json:"path,omitempty"`
	Passed    bool    `json:"passed"`
	DurationS float64 `json:"durationSeconds"`
	// ProvenOn is where the suite ran: lab, lab via the GCP API, GCP (the harness's JUnit
	// property proven-on).
	ProvenOn string       `json:"provenOn,omitempty"`
	Specs    []SpecResult `json:"specs"`
}

// SpecResult is one spec (or a failed suite-level node such as BeforeSuite).
type SpecResult struct {
	Name      string   `json:"name"`
	Labels    []string `json:"labels,omitempty"`
	Matrix    Labels   `json:"matrix"`
	State     string   `json:"state"` // passed, failed, skipped, pending, panicked, interrupted, aborted, timedout
	DurationS float64  `json:"durationSeconds"`
	Failure   string   `json:"failure,omitempty"`
	Location  string   `json:"location,omitempty"`
	// Checks and Budget are what the spec recorded (EntryChecks, EntryBudget, EntryProbe).
	Checks []probe.Check   `json:"checks,omitempty"`
	Budget []probe.Verdict `json:"budget,omitempty"`
	// Entries are the other report entries, as text.
	Entries map[string]string `json:"entries,omitempty"`
}

// Measurement is a probe report and where it was taken.
type Measurement struct {
	Suite  string        `json:"suite"`
	Spec   string        `json:"spec"`
	Labels Labels        `json:"matrix"`
	Probe  *probe.Report `json:"probe"`
}

// Finding is a defect with its evidence and fix. Specs record them (EntryFinding), and a
// findings.json (a JSON list of these) in the report directory adds more.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"` // critical, high, medium, low, info
	Title    string `json:"title"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix"`
	// Where it was seen (optional).
	Solution string `json:"solution,omitempty"`
	Variant  string `json:"variant,omitempty"`
	Proxy    string `json:"proxy,omitempty"`
	Spec     string `json:"spec,omitempty"`
}

// Severities in order, most severe first.
var Severities = []string{"critical", "high", "medium", "low", "info"}

// Validate checks a finding's required fields.
func (f Finding) Validate() error {
	var missing []string
	for name, v := range map[string]string{"id": f.ID, "severity": f.Severity, "title": f.Title, "evidence": f.Evidence, "fix": f.Fix} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Errorf("finding %q: missing %s", f.ID, strings.Join(missing, ", "))
	}
	if !slices.Contains(Severities, f.Severity) {
		return fmt.Errorf("finding %q: severity %q: use one of %s", f.ID, f.Severity, strings.Join(Severities, ", "))
	}
	return nil
}

// Known label values: a spec's labels name its solution (the label after "solution"),
// variant and proxy.
var (
	knownVariants = []string{"hardened", "seed"}
	knownProxies  = []string{"nginx", "go-l7", "go-l4"}
)

// labelsOf places a spec: labels first; the variant may also come from a container's text
// ("hardened with nginx"); an EntryLabels entry overrides both.
func labelsOf(labels, texts []string) Labels {
	var l Labels
	for i, lb := range labels {
		switch {
		case lb == "solution" && i+1 < len(labels):
			l.Solution = labels[i+1]
		case strings.HasPrefix(lb, "solution:"):
			l.Solution = strings.TrimSpace(strings.TrimPrefix(lb, "solution:"))
		case slices.Contains(knownVariants, lb):
			l.Variant = lb
		case slices.Contains(knownProxies, lb):
			l.Proxy = lb
		}
	}
	if l.Solution == "" && len(labels) > 0 && !slices.Contains(knownVariants, labels[0]) && !slices.Contains(knownProxies, labels[0]) {
		l.Solution = labels[0]
	}
	if l.Variant == "" && l.Solution != "" {
		for _, t := range texts {
			for _, w := range strings.Fields(strings.ToLower(t)) {
				if slices.Contains(knownVariants, strings.Trim(w, "():,")) {
					l.Variant = strings.Trim(w, "():,")
				}
			}
		}
	}
	return l
}

// FromGinkgoReports builds Results from Ginkgo reports (the --json-report file holds a list
// of them, one per suite).
func FromGinkgoReports(rs []types.Report) *Results {
	res := &Results{Schema: ResultsSchema}
	var tb timingBuilder
	for _, r := range rs {
		name := r.SuiteDescription
		sr := SuiteResult{Name: name, Path: r.SuitePath, Passed: r.SuiteSucceeded, DurationS: r.RunTime.Seconds()}
		tb.addSuite(name, r.RunTime, ginkgoNodes(r))
		if res.Meta.Started.IsZero() || r.StartTime.Before(res.Meta.Started) {
			res.Meta.Started = r.StartTime
		}
		if r.EndTime.After(res.Meta.Finished) {
			res.Meta.Finished = r.EndTime
		}
		for _, sp := range r.SpecReports {
			if sp.LeafNodeType != types.NodeTypeIt && sp.State.Is(types.SpecStatePassed|types.SpecStateSkipped) {
				continue
			}
			s := SpecResult{Name: caseName(sp), Labels: sp.Labels(), State: sp.State.String(), DurationS: sp.RunTime.Seconds()}
			s.Matrix = labelsOf(s.Labels, sp.ContainerHierarchyTexts)
			if sp.State.Is(types.SpecStateFailureStates) {
				s.Failure = firstLine(sp.Failure.Message)
				s.Location = sp.Failure.Location.String()
			}
			for _, e := range sp.ReportEntries {
				if e.Name == EntryLabels {
					var l Labels
					if json.Unmarshal([]byte(e.Value.AsJSON), &l) == nil {
						s.Matrix = l
					}
				}
			}
			for _, e := range sp.ReportEntries {
				raw := []byte(e.Value.AsJSON)
				switch e.Name {
				case EntryLabels:
				case EntryProbe:
					var p probe.Report
					if err := json.Unmarshal(raw, &p); err == nil {
						res.Measurements = append(res.Measurements, Measurement{Suite: name, Spec: s.Name, Labels: s.Matrix, Probe: &p})
						s.Checks = append(s.Checks, p.Checks...)
						s.Budget = append(s.Budget, p.Budget...)
					}
				case EntryChecks:
					var cs []probe.Check
					if json.Unmarshal(raw, &cs) == nil {
						s.Checks = append(s.Checks, cs...)
					}
				case EntryBudget:
					var vs []probe.Verdict
					if json.Unmarshal(raw, &vs) == nil {
						s.Budget = append(s.Budget, vs...)
					}
				case EntryFootprint:
					var fp Footprint
					if json.Unmarshal(raw, &fp) == nil {
						if fp.Labels == (Labels{}) {
							fp.Labels = s.Matrix
						}
						res.Footprints = append(res.Footprints, fp)
					}
				case EntryFinding:
					var f Finding
					if json.Unmarshal(raw, &f) == nil {
						if f.Spec == "" {
							f.Spec = s.Name
						}
						if f.Solution == "" && f.Variant == "" && f.Proxy == "" {
							f.Solution, f.Variant, f.Proxy = s.Matrix.Solution, s.Matrix.Variant, s.Matrix.Proxy
						}
						res.Findings = append(res.Findings, f)
					}
				default:
					if s.Entries == nil {
						s.Entries = map[string]string{}
					}
					s.Entries[e.Name] = e.Value.Representation
				}
			}
			sr.Specs = append(sr.Specs, s)
		}
		res.Suites = append(res.Suites, sr)
	}
	res.Timing = tb.timing()
	res.finish()
	return res
}

// FromJUnit builds Results from a merged JUnit file, when no Ginkgo JSON report exists:
// spec states, times and labels (from the "[a, b]" suffix of case names), no measurements.
// Its timing has lab times only for suite-level nodes that failed (JUnit lists no others).
func FromJUnit(doc Suites) *Results {
	res := &Results{Schema: ResultsSchema}
	var tb timingBuilder
	for _, su := range doc.Suites {
		sr := SuiteResult{Name: su.Name, Passed: su.Failures+su.Errors == 0, DurationS: su.Time}
		tb.addSuite(su.Name, time.Duration(su.Time*float64(time.Second)), junitNodes(su))
		if t, err := time.Parse("2006-01-02T15:04:05", su.Timestamp); err == nil && (res.Meta.Started.IsZero() || t.Before(res.Meta.Started)) {
			res.Meta.Started = t
		}
		for _, p := range su.Properties {
			switch p.Name {
			case "provider":
				res.Meta.Provider = p.Value
			case "topology":
				res.Meta.Topology = p.Value
			}
		}
		for _, c := range su.Cases {
			s := SpecResult{Name: c.Name, State: "passed", DurationS: c.Time}
			if i := strings.LastIndex(c.Name, " ["); i >= 0 && strings.HasSuffix(c.Name, "]") {
				s.Labels = strings.Split(c.Name[i+2:len(c.Name)-1], ", ")
			}
			s.Matrix = labelsOf(s.Labels, []string{c.Name})
			switch {
			case c.Failure != nil:
				s.State, s.Failure = "failed", c.Failure.Message
			case c.Error != nil:
				s.State, s.Failure = c.Error.Type, c.Error.Message
			case c.Skipped != nil:
				s.State = "skipped"
			}
			sr.Specs = append(sr.Specs, s)
		}
		res.Suites = append(res.Suites, sr)
	}
	res.Timing = tb.timing()
	res.finish()
	return res
}

func (res *Results) finish() {
	res.Summary = Summary{}
	for _, su := range res.Suites {
		for _, s := range su.Specs {
			res.Summary.Specs++
			switch s.State {
			case "passed":
				res.Summary.Passed++
			case "skipped", "pending":
				res.Summary.Skipped++
			default:
				res.Summary.Failed++
			}
		}
	}
	res.Compare = Compare(res)
	if !res.Meta.Finished.IsZero() {
		res.Meta.DurationS = res.Meta.Finished.Sub(res.Meta.Started).Seconds()
	}
	res.Meta.Generated = time.Now().UTC()
	res.Meta.Host, _ = os.Hostname()
	res.Meta.GoVersion = runtime.Version()
	if res.Findings == nil {
		res.Findings = []Finding{}
	}
	if res.Measurements == nil {
		res.Measurements = []Measurement{}
	}
}

// AddFindings appends findings (e.g. from findings.json), skipping ids already present for
// the same place, and rejects invalid ones.
func (res *Results) AddFindings(fs []Finding) error {
	for _, f := range fs {
		if err := f.Validate(); err != nil {
			return err
		}
		dup := slices.ContainsFunc(res.Findings, func(g Finding) bool {
			return g.ID == f.ID && g.Solution == f.Solution && g.Variant == f.Variant && g.Proxy == f.Proxy
		})
		if !dup {
			res.Findings = append(res.Findings, f)
		}
	}
	return nil
}

// WriteJSON writes results.json.
func (res *Results) WriteJSON(path string) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// String is how a finding reads in JUnit system-out.
func (f Finding) String() string {
	return fmt.Sprintf("%s [%s] %s\nevidence: %s\nfix: %s", f.ID, f.Severity, f.Title, f.Evidence, f.Fix)
}
