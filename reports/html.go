package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"reachgate/framework/probe"
)

//go:embed report.html.tmpl
var reportTemplate string

// cell is one solution × check verdict: every observation passed, every one failed, or both.
type cell struct {
	Class   string // ok, bad, mixed
	Text    string
	Reasons string // tooltip: one line per observation
}

type matrixRow struct {
	Key   string
	Cells []cell // aligned with matrix.Columns; Class "" for no observation
}

type matrix struct {
	Columns []string
	Rows    []matrixRow
}

// chart is a latency histogram as inline SVG geometry.
type chart struct {
	Title                string
	Summary              string
	Width, Height, Base  int
	Bars                 []bar
	Samples, Errors, Max int
}

type bar struct {
	X, Y, W, H  int
	Label, Tip  string
	LabelX      int
	LabelY      int
	Count       int
	CountY      int
	Highlighted bool // holds p95
}

type view struct {
	R        *Results
	Matrix   matrix
	Charts   []chart
	Findings []Finding
	Timing   *timingView // nil when results.json has no timing
}

// timingView is the Timing section: one row per suite, in the order of Results.Suites, and a total.
type timingView struct {
	Suites  []timingRow
	Total   timingRow
	Slowest []SlowSpec
}

type timingRow struct {
	Suite    string
	Wall     string
	Up, Down cell // Class "bad" when the node did not pass, "na" when it is not recorded
	Specs    string
}

// WriteHTML renders report.html: one static file, inline CSS and SVG, no external assets.
func WriteHTML(path string, res *Results) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"join":  strings.Join,
		"mod":   func(a, b int) int { return a % b },
		"inc":   func(i int) int { return i + 1 },
		"stamp": func(v any) string { return fmt.Sprint(v) },
	}).Parse(reportTemplate)
	if err != nil {
		return fmt.Errorf("parse report template: %w", err)
	}
	v := view{R: res, Matrix: buildMatrix(res), Charts: buildCharts(res), Findings: sortedFindings(res.Findings), Timing: buildTiming(res.Timing)}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// SpecsColumn is the matrix column with each row's spec outcomes.
const SpecsColumn = "specs"

func buildMatrix(res *Results) matrix {
	type obs struct {
		pass     bool
		expected bool // a failure the spec expected: a finding
		reason   string
	}
	cells := map[string]map[string][]obs{} // row -> column -> observations
	var cols []string
	add := func(row, col string, pass, expected bool, reason string) {
		if cells[row] == nil {
			cells[row] = map[string][]obs{}
		}
		if !slices.Contains(cols, col) {
			cols = append(cols, col)
		}
		cells[row][col] = append(cells[row][col], obs{pass, expected, reason})
	}
	for _, su := range res.Suites {
		for _, s := range su.Specs {
			if s.State == "skipped" || s.State == "pending" {
				continue
			}
			row := s.Matrix.Key()
			if s.Matrix == (Labels{}) {
				row = su.Name + " (no solution)"
			}
			add(row, SpecsColumn, s.State == "passed", false, s.State+": "+s.Name)
			for _, c := range s.Checks {
				add(row, c.Name, c.Pass, !c.Pass && c.Expected, c.Reason)
			}
			for _, v := range s.Budget {
				add(row, "budget: "+v.Item, v.Pass, false, v.Text)
			}
		}
	}
	// The specs column first, then checks in first-seen order.
	var rows []string
	for r := range cells {
		rows = append(rows, r)
	}
	sort.Strings(rows)
	m := matrix{Columns: cols}
	for _, r := range rows {
		mr := matrixRow{Key: r}
		for _, c := range cols {
			obsv := cells[r][c]
			if len(obsv) == 0 {
				mr.Cells = append(mr.Cells, cell{Text: "–", Reasons: "not checked"})
				continue
			}
			passed, expected := 0, 0
			var reasons []string
			for _, o := range obsv {
				mark := "PASS "
				switch {
				case o.pass:
					passed++
				case o.expected:
					expected++
					mark = "FINDING (expected of this variant) "
				default:
					mark = "FAIL "
				}
				reasons = append(reasons, mark+o.reason)
			}
			ce := cell{Reasons: strings.Join(reasons, "\n")}
			switch {
			case expected > 0 && passed+expected == len(obsv):
				// The variant's known defect, proven: a finding, not a failure.
				ce.Class, ce.Text = "finding", "finding"
			case passed == len(obsv):
				ce.Class, ce.Text = "ok", "pass"
			case passed == 0:
				ce.Class, ce.Text = "bad", "FAIL"
			default:
				ce.Class, ce.Text = "mixed", fmt.Sprintf("%d/%d", passed, len(obsv))
			}
			if len(obsv) > 1 && ce.Class != "mixed" {
				ce.Text += fmt.Sprintf(" ×%d", len(obsv))
			}
			mr.Cells = append(mr.Cells, ce)
		}
		m.Rows = append(m.Rows, mr)
	}
	return m
}

func buildCharts(res *Results) []chart {
	var out []chart
	for _, m := range res.Measurements {
		if m.Probe == nil {
			continue
		}
		for _, pl := range m.Probe.Latency {
			out = append(out, histogramChart(m, pl))
		}
	}
	return out
}

func histogramChart(m Measurement, pl probe.PathLatency) chart {
	const width, height, left, top, bottom = 560, 190, 36, 16, 34
	c := chart{Title: fmt.Sprintf("GET %s — %s (profile %s)", pl.Path, m.Labels.Key(), m.Probe.Profile),
		Summary: fmt.Sprintf("%d samples, %d errors: p50 %v, p95 %v, p99 %v, max %v", pl.Samples, pl.Errors, pl.P50, pl.P95, pl.P99, pl.Max),
		Width:   width, Height: height, Base: height - bottom, Samples: pl.Samples, Errors: pl.Errors}
	// Show the buckets from the first to the last non-empty one.
	first, last := -1, -1
	for i, b := range pl.Histogram {
		if b.Count > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return c
	}
	first, last = max(0, first-1), min(len(pl.Histogram)-1, last+1)
	buckets := pl.Histogram[first : last+1]
	for _, b := range buckets {
		c.Max = max(c.Max, b.Count)
	}
	slot := (width - left) / len(buckets)
	prev := 0.0
	if first > 0 {
		prev = pl.Histogram[first-1].LeMs
	}
	for i, b := range buckets {
		h := 0
		if c.Max > 0 {
			h = b.Count * (height - top - bottom) / c.Max
		}
		label := fmt.Sprintf("≤%g", b.LeMs)
		if b.LeMs == 0 {
			label = fmt.Sprintf(">%g", prev)
		}
		x := left + i*slot
		c.Bars = append(c.Bars, bar{X: x + 2, Y: c.Base - h, W: slot - 4, H: h, Label: label, LabelX: x + slot/2, LabelY: height - 18,
			Count: b.Count, CountY: c.Base - h - 3,
			Tip:         fmt.Sprintf("%s ms: %d requests", label, b.Count),
			Highlighted: float64(pl.P95) > prev && (b.LeMs == 0 || float64(pl.P95) <= b.LeMs)})
		prev = b.LeMs
	}
	return c
}

func buildTiming(t *Timing) *timingView {
	if t == nil {
		return nil
	}
	lab := func(s *float64, state, node string) cell {
		switch {
		case s == nil:
			return cell{Class: "na", Text: "–", Reasons: "no " + node + " in the report"}
		case state != "" && state != "passed":
			return cell{Class: "bad", Text: fmt.Sprintf("%.2f %s", *s, state), Reasons: fmt.Sprintf("%s %s after %.3f s", node, state, *s)}
		}
		return cell{Text: fmt.Sprintf("%.2f", *s), Reasons: fmt.Sprintf("%s %.3f s", node, *s)}
	}
	v := &timingView{Slowest: t.Slowest}
	for _, s := range t.Suites {
		v.Suites = append(v.Suites, timingRow{Suite: s.Suite, Wall: fmt.Sprintf("%.2f", s.WallS),
			Up: lab(s.LabUpS, s.LabUpState, "BeforeSuite"), Down: lab(s.LabDownS, s.LabDownState, "AfterSuite"), Specs: specsText(s.Specs, s.SpecsRun)})
	}
	v.Total = timingRow{Suite: "total", Wall: fmt.Sprintf("%.2f", t.Total.WallS),
		Up: cell{Text: fmt.Sprintf("%.2f", t.Total.LabUpS)}, Down: cell{Text: fmt.Sprintf("%.2f", t.Total.LabDownS)}, Specs: specsText(t.Total.Specs, t.Total.SpecsRun)}
	return v
}

func sortedFindings(fs []Finding) []Finding {
	out := slices.Clone(fs)
	sort.SliceStable(out, func(i, j int) bool {
		return slices.Index(Severities, out[i].Severity) < slices.Index(Severities, out[j].Severity)
	})
	return out
}
