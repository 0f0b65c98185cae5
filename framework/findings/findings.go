// Package findings is reachgate's catalog of known defects in ways to reach a private GKE
// control plane (most of them in the source article's steps), and the live detectors that
// turn evidence observed on a running environment into findings. Static detectors, which read
// files, live in reachgate/framework/lint and report the same catalog entries.
package findings

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Severity orders findings; a gate fails at or above a chosen severity.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads info, low, medium, high or critical (any case).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("severity %q: choose one of %s", s, strings.Join(severityNames, ", "))
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Entry is one known defect.
type Entry struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// Why explains the consequence; Fix says what to do instead.
	Why string `json:"why"`
	Fix string `json:"fix"`
	// Detectors name the functions that report this entry: lint.* read files,
	// findings.Detect* take evidence from a running environment.
	Detectors []string `json:"detectors"`
	// Ref names, in a few words, the public documentation or the source article's step the
	// entry comes from; it cites nothing outside the repository by path.
	Ref string `json:"ref,omitempty"`
}

// Evidence is where a finding was seen: a file position, or an observation on a live
// environment (Text says what was observed, e.g. kubectl's error).
type Evidence struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Text is the offending line or observation, short.
	Text string `json:"text,omitempty"`
}

// Finding is a catalog entry seen somewhere, with its evidence and a specific message.
type Finding struct {
	Entry
	Evidence Evidence `json:"evidence"`
	Message  string   `json:"message"`
}

// Where is "file:line", "file", or "live".
func (f Finding) Where() string {
	switch {
	case f.Evidence.File != "" && f.Evidence.Line > 0:
		return fmt.Sprintf("%s:%d", f.Evidence.File, f.Evidence.Line)
	case f.Evidence.File != "":
		return f.Evidence.File
	}
	return "live"
}

// String is "where: ID severity message".
func (f Finding) String() string {
	return fmt.Sprintf("%s: %s %s %s", f.Where(), f.ID, f.Severity, f.Message)
}

// MarshalJSON flattens the finding for reports.
func (f Finding) MarshalJSON() ([]byte, error) {
	type flat struct {
		ID       string   `json:"id"`
		Severity Severity `json:"severity"`
		Title    string   `json:"title"`
		Message  string   `json:"message"`
		File     string   `json:"file,omitempty"`
		Line     int      `json:"line,omitempty"`
		Evidence string   `json:"evidence,omitempty"`
		Fix      string   `json:"fix"`
	}
	return json.Marshal(flat{ID: f.ID, Severity: f.Severity, Title: f.Title, Message: f.Message,
		File: f.Evidence.File, Line: f.Evidence.Line, Evidence: f.Evidence.Text, Fix: f.Fix})
}

// New makes a finding of catalog entry id; it panics on an unknown id, which is a bug in a
// detector, not bad input.
func New(id string, ev Evidence, format string, args ...any) Finding {
	e, ok := Lookup(id)
	if !ok {
		panic(fmt.Sprintf("findings: no catalog entry %q", id))
	}
	msg := e.Title
	if format != "" {
		msg = fmt.Sprintf(format, args...)
	}
	return Finding{Entry: e, Evidence: ev, Message: msg}
}

// Lookup returns the catalog entry id.
func Lookup(id string) (Entry, bool) {
	for _, e := range catalog {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// Catalog returns every entry, ordered by ID.
func Catalog() []Entry {
	out := append([]Entry(nil), catalog...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AtLeast reports whether any finding is at or above min.
func AtLeast(fs []Finding, min Severity) bool {
	for _, f := range fs {
		if f.Severity >= min {
			return true
		}
	}
	return false
}

// Sort orders findings by file, line, then ID.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Evidence.File != b.Evidence.File {
			return a.Evidence.File < b.Evidence.File
		}
		if a.Evidence.Line != b.Evidence.Line {
			return a.Evidence.Line < b.Evidence.Line
		}
		return a.ID < b.ID
	})
}
