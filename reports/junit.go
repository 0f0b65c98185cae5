// Package reports turns suite results into JUnit XML (with reachgate's run properties) and
// merges the per-suite files into reports/out/junit.xml.
package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// Property is a name/value pair recorded on a test suite (provider, topology, solution…).
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Suites is the <testsuites> document.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     float64  `xml:"time,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite is one <testsuite>.
type Suite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Time       float64    `xml:"time,attr"`
	Timestamp  string     `xml:"timestamp,attr,omitempty"`
	Properties []Property `xml:"properties>property"`
	Cases      []Case     `xml:"testcase"`
}

// Case is one <testcase>.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      float64  `xml:"time,attr"`
	Failure   *Failure `xml:"failure,omitempty"`
	Error     *Failure `xml:"error,omitempty"`
	Skipped   *Skipped `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Failure is a <failure> or <error>.
type Failure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Skipped is a <skipped>.
type Skipped struct {
	Message string `xml:"message,attr"`
}

// FromGinkgo converts a suite report. Specs and failed suite-level nodes (a failed
// BeforeSuite is a failed provisioning) become test cases.
func FromGinkgo(r types.Report, name string, props []Property) Suite {
	s := Suite{Name: name, Time: r.RunTime.Seconds(), Timestamp: r.StartTime.UTC().Format("2006-01-02T15:04:05"), Properties: props}
	for _, sp := range r.SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt && sp.State.Is(types.SpecStatePassed|types.SpecStateSkipped) {
			continue // suite-level nodes appear only when they fail
		}
		c := Case{Name: caseName(sp), Classname: name, Time: sp.RunTime.Seconds(), SystemOut: systemOut(sp)}
		switch {
		case sp.State == types.SpecStatePassed:
		case sp.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			c.Skipped = &Skipped{Message: sp.Failure.Message}
			s.Skipped++
		case sp.State == types.SpecStateFailed:
			c.Failure = &Failure{Message: firstLine(sp.Failure.Message), Type: "failed", Text: failureText(sp)}
			s.Failures++
		default: // panicked, interrupted, aborted, timed out
			c.Error = &Failure{Message: firstLine(sp.Failure.Message), Type: sp.State.String(), Text: failureText(sp)}
			s.Errors++
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	return s
}

func caseName(sp types.SpecReport) string {
	if sp.LeafNodeType != types.NodeTypeIt {
		return "[" + sp.LeafNodeType.String() + "]"
	}
	parts := append(append([]string{}, sp.ContainerHierarchyTexts...), sp.LeafNodeText)
	name := strings.Join(parts, " ")
	if labels := sp.Labels(); len(labels) > 0 {
		name += " [" + strings.Join(labels, ", ") + "]"
	}
	return name
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func failureText(sp types.SpecReport) string {
	text := fmt.Sprintf("%s\n%s", sp.Failure.Message, sp.Failure.Location)
	if sp.Failure.ForwardedPanic != "" {
		text += "\npanic: " + sp.Failure.ForwardedPanic
	}
	if st := sp.Failure.Location.FullStackTrace; st != "" {
		text += "\n" + st
	}
	return text
}

func systemOut(sp types.SpecReport) string {
	var b strings.Builder
	for _, e := range sp.ReportEntries {
		fmt.Fprintf(&b, "%s: %s\n", e.Name, e.StringRepresentation())
	}
	b.WriteString(sp.CapturedGinkgoWriterOutput)
	return b.String()
}

// WriteSuite writes one suite as its own JUnit file.
func WriteSuite(path string, s Suite) error {
	return write(path, []Suite{s})
}

// Merge combines every *.xml file in dir into one JUnit document at out.
func Merge(dir, out string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	var all []Suite
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var doc Suites
		if err := xml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("read JUnit %s: %w", f, err)
		}
		all = append(all, doc.Suites...)
	}
	return write(out, all)
}

func write(path string, suites []Suite) error {
	var b bytes.Buffer
	if err := Encode(&b, suites...); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// Encode writes suites as one JUnit <testsuites> document (XML header, two-space indent,
// final newline), its totals summed over the suites.
func Encode(w io.Writer, suites ...Suite) error {
	doc := Suites{Suites: suites}
	for _, s := range suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Time += s.Time
	}
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append([]byte(xml.Header), append(data, '\n')...))
	return err
}
