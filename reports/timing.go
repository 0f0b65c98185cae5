package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/onsi/ginkgo/v2/types"
)

// SlowestSpecs is how many specs Timing.Slowest lists.
const SlowestSpecs = 10

// Timing is how long the run took, per suite and for its slowest specs, so that a run that
// got slower shows against the one before. Seconds are rounded to the millisecond.
type Timing struct {
	// Suites in the order they appear in Results.Suites.
	Suites []SuiteTiming `json:"suites"`
	Total  TimingTotal   `json:"total"`
	// Slowest are the specs (It nodes) that ran, slowest first, at most SlowestSpecs; equal
	// times keep the order of the suites and of the specs in them.
	Slowest []SlowSpec `json:"slowestSpecs"`
}

// SuiteTiming is one suite's time. The lab is provisioned in the suite's BeforeSuite and torn
// down in its AfterSuite (suites/harness), so those nodes' run times are "lab up" and "lab
// down". A time is null when the report holds no such node: the suite has none, or the
// source is JUnit, which lists suite-level nodes only when they fail.
type SuiteTiming struct {
	Suite string `json:"suite"`
	// WallS is the suite's run time, setup and teardown included.
	WallS float64 `json:"wallSeconds"`
	// LabUpS is the BeforeSuite's run time (SynchronizedBeforeSuite counts too); with a
	// LabUpState other than "passed" it is the time until it failed.
	LabUpS     *float64 `json:"labUpSeconds"`
	LabUpState string   `json:"labUpState,omitempty"`
	// LabDownS is the AfterSuite's run time (SynchronizedAfterSuite and cleanups deferred in
	// BeforeSuite count too).
	LabDownS     *float64 `json:"labDownSeconds"`
	LabDownState string   `json:"labDownState,omitempty"`
	// Specs counts the suite's specs in the report, whatever their state; SpecsRun those that
	// ran (not skipped or pending). A suite whose BeforeSuite failed reports none.
	Specs    int `json:"specs"`
	SpecsRun int `json:"specsRun"`
}

// TimingTotal sums the suites: their wall, lab up and lab down times and spec counts.
type TimingTotal struct {
	WallS    float64 `json:"wallSeconds"`
	LabUpS   float64 `json:"labUpSeconds"`
	LabDownS float64 `json:"labDownSeconds"`
	Specs    int     `json:"specs"`
	SpecsRun int     `json:"specsRun"`
}

// SlowSpec is one of the slowest specs.
type SlowSpec struct {
	Suite string `json:"suite"`
	// Spec is the spec's full text: its containers' texts and its own, joined by spaces.
	Spec    string  `json:"spec"`
	Seconds float64 `json:"seconds"`
	State   string  `json:"state"`
}

// nodeRole is what a suite's node counts for in Timing.
type nodeRole int

const (
	roleOther nodeRole = iota
	roleSpec
	roleLabUp
	roleLabDown
)

// timedNode is a node of a suite report, from Ginkgo JSON or JUnit.
type timedNode struct {
	role  nodeRole
	text  string
	state string
	d     time.Duration
}

// timingBuilder collects suites in order and builds Timing.
type timingBuilder struct {
	suites []SuiteTiming
	wall   []time.Duration
	up     []time.Duration
	down   []time.Duration
	specs  []slowCandidate
}

type slowCandidate struct {
	SlowSpec
	d time.Duration
}

func (b *timingBuilder) addSuite(name string, wall time.Duration, nodes []timedNode) {
	st := SuiteTiming{Suite: name, WallS: seconds(wall)}
	var up, down time.Duration
	var haveUp, haveDown bool
	for _, n := range nodes {
		switch n.role {
		case roleLabUp:
			up += n.d
			haveUp = true
			st.LabUpState = worseState(st.LabUpState, n.state)
		case roleLabDown:
			down += n.d
			haveDown = true
			st.LabDownState = worseState(st.LabDownState, n.state)
		case roleSpec:
			st.Specs++
			if n.state == "skipped" || n.state == "pending" {
				continue
			}
			st.SpecsRun++
			b.specs = append(b.specs, slowCandidate{SlowSpec{Suite: name, Spec: n.text, Seconds: seconds(n.d), State: n.state}, n.d})
		}
	}
	if haveUp {
		s := seconds(up)
		st.LabUpS = &s
		b.up = append(b.up, up)
	}
	if haveDown {
		s := seconds(down)
		st.LabDownS = &s
		b.down = append(b.down, down)
	}
	b.wall = append(b.wall, wall)
	b.suites = append(b.suites, st)
}

// timing is nil when no suite was added.
func (b *timingBuilder) timing() *Timing {
	if len(b.suites) == 0 {
		return nil
	}
	t := &Timing{Suites: b.suites, Slowest: []SlowSpec{}}
	sum := func(ds []time.Duration) float64 {
		var total time.Duration
		for _, d := range ds {
			total += d
		}
		return seconds(total)
	}
	t.Total = TimingTotal{WallS: sum(b.wall), LabUpS: sum(b.up), LabDownS: sum(b.down)}
	for _, s := range b.suites {
		t.Total.Specs += s.Specs
		t.Total.SpecsRun += s.SpecsRun
	}
	cands := append([]slowCandidate(nil), b.specs...)
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].d > cands[j].d })
	for _, c := range cands[:min(len(cands), SlowestSpecs)] {
		t.Slowest = append(t.Slowest, c.SlowSpec)
	}
	return t
}

// worseState keeps the first state that is not "passed".
func worseState(have, next string) string {
	if have == "" || have == "passed" {
		return next
	}
	return have
}

// seconds rounds to the millisecond.
func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

// ginkgoNodes classifies a Ginkgo suite report's nodes.
func ginkgoNodes(r types.Report) []timedNode {
	var out []timedNode
	for _, sp := range r.SpecReports {
		n := timedNode{text: sp.FullText(), state: sp.State.String(), d: sp.RunTime}
		switch {
		case sp.LeafNodeType == types.NodeTypeIt:
			n.role = roleSpec
		case sp.LeafNodeType.Is(types.NodeTypeBeforeSuite | types.NodeTypeSynchronizedBeforeSuite):
			n.role = roleLabUp
		case sp.LeafNodeType.Is(types.NodeTypeAfterSuite | types.NodeTypeSynchronizedAfterSuite | types.NodeTypeCleanupAfterSuite):
			n.role = roleLabDown
		}
		out = append(out, n)
	}
	return out
}

// junitNodes classifies a JUnit suite's cases: specs, and the suite-level nodes FromGinkgo
// writes as "[BeforeSuite]" and the like (only those that failed).
func junitNodes(su Suite) []timedNode {
	var out []timedNode
	for _, c := range su.Cases {
		n := timedNode{text: c.Name, state: junitState(c), d: time.Duration(c.Time * float64(time.Second))}
		switch c.Name {
		case "[" + types.NodeTypeBeforeSuite.String() + "]", "[" + types.NodeTypeSynchronizedBeforeSuite.String() + "]":
			n.role = roleLabUp
		case "[" + types.NodeTypeAfterSuite.String() + "]", "[" + types.NodeTypeSynchronizedAfterSuite.String() + "]",
			"[" + types.NodeTypeCleanupAfterSuite.String() + "]":
			n.role = roleLabDown
		default:
			if strings.HasPrefix(c.Name, "[") && strings.HasSuffix(c.Name, "]") {
				n.role = roleOther // another suite-level node
				break
			}
			n.role = roleSpec
			// The full text, without the " [labels]" suffix of the case name.
			if i := strings.LastIndex(c.Name, " ["); i >= 0 && strings.HasSuffix(c.Name, "]") {
				n.text = c.Name[:i]
			}
		}
		out = append(out, n)
	}
	return out
}

// junitState is a case's state as results.json names it.
func junitState(c Case) string {
	switch {
	case c.Failure != nil:
		return "failed"
	case c.Error != nil:
		return c.Error.Type
	case c.Skipped != nil:
		return "skipped"
	}
	return "passed"
}

// WriteText prints the per-suite times as a table with a total row: what `reachgate report`
// prints after its summary. A lab time that is not recorded prints as "-"; one whose node
// did not pass carries its state.
func (t *Timing) WriteText(w io.Writer) error {
	if t == nil || len(t.Suites) == 0 {
		return nil
	}
	opt := func(s *float64, state string) string {
		switch {
		case s == nil:
			return "-"
		case state != "" && state != "passed":
			return fmt.Sprintf("%.2f %s", *s, state)
		}
		return fmt.Sprintf("%.2f", *s)
	}
	rows := [][]string{{"suite", "wall s", "lab up s", "lab down s", "specs"}}
	for _, s := range t.Suites {
		rows = append(rows, []string{s.Suite, fmt.Sprintf("%.2f", s.WallS), opt(s.LabUpS, s.LabUpState), opt(s.LabDownS, s.LabDownState), specsText(s.Specs, s.SpecsRun)})
	}
	rows = append(rows, []string{"total", fmt.Sprintf("%.2f", t.Total.WallS), fmt.Sprintf("%.2f", t.Total.LabUpS), fmt.Sprintf("%.2f", t.Total.LabDownS), specsText(t.Total.Specs, t.Total.SpecsRun)})
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		// The suite name left-aligned, the numbers right-aligned.
		fmt.Fprintf(&b, "%-*s", width[0], r[0])
		for i, c := range r[1:] {
			fmt.Fprintf(&b, "  %*s", width[i+1], c)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// specsText is a spec count, with how many ran when some did not: "7 (5 ran)".
func specsText(n, run int) string {
	if n == run {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d (%d ran)", n, run)
}
