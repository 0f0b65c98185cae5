package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"reachgate/framework/findings"
	"reachgate/reports"
)

// Formats are the output formats of WriteReport.
var Formats = []string{"text", "json", "junit", "sarif"}

// WriteReport writes the result in format (text, json, junit or sarif).
func WriteReport(w io.Writer, r *Result, format string) error {
	switch format {
	case "", "text":
		return writeText(w, r)
	case "json":
		return writeJSON(w, r)
	case "junit":
		return writeJUnit(w, r)
	case "sarif":
		return writeSARIF(w, r)
	}
	return fmt.Errorf("format %q: choose one of %s", format, strings.Join(Formats, ", "))
}

// writeText is one line per finding: "file:line: ID severity message"; input errors come
// first, as "file:line: error: message".
func writeText(w io.Writer, r *Result) error {
	for _, e := range r.Errors() {
		if _, err := fmt.Fprintf(w, "%s: error: %s\n", where(e.File, e.Line), e.Msg); err != nil {
			return err
		}
	}
	for _, f := range r.Findings() {
		if _, err := fmt.Fprintf(w, "%s: %s %s %s\n", f.Where(), f.ID, f.Severity, f.Message); err != nil {
			return err
		}
	}
	return nil
}

func where(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

func writeJSON(w io.Writer, r *Result) error {
	type errJSON struct {
		File    string `json:"file"`
		Line    int    `json:"line,omitempty"`
		Message string `json:"message"`
	}
	out := struct {
		Findings []findings.Finding `json:"findings"`
		Errors   []errJSON          `json:"errors"`
		Files    []string           `json:"files"`
	}{Findings: r.Findings(), Errors: []errJSON{}, Files: []string{}}
	if out.Findings == nil {
		out.Findings = []findings.Finding{}
	}
	for _, e := range r.Errors() {
		out.Errors = append(out.Errors, errJSON{File: e.File, Line: e.Line, Message: e.Msg})
	}
	for _, f := range r.Files {
		out.Files = append(out.Files, f.File)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeJUnit writes one testsuite: per file a testcase that passes when the file has no
// finding, and per finding a failing testcase named "file:line ID"; an unreadable file is an
// errored testcase.
func writeJUnit(w io.Writer, r *Result) error {
	s := reports.Suite{Name: "reachgate lint"}
	for _, f := range r.Files {
		class := "lint." + string(f.Kind)
		if f.Kind == KindUnknown {
			class = "lint"
		}
		switch {
		case f.Err != nil:
			s.Errors++
			s.Cases = append(s.Cases, reports.Case{Name: f.File, Classname: class, Error: &reports.Failure{Message: f.Err.Msg, Type: "input", Text: f.Err.Error()}})
		case len(f.Findings) == 0:
			s.Cases = append(s.Cases, reports.Case{Name: f.File, Classname: class})
		default:
			for _, fd := range f.Findings {
				s.Failures++
				s.Cases = append(s.Cases, reports.Case{Name: fd.Where() + " " + fd.ID, Classname: class, Failure: &reports.Failure{
					Message: fd.Message, Type: fd.Severity.String(),
					Text: fmt.Sprintf("%s %s: %s\nevidence: %s\nwhy: %s\nfix: %s", fd.ID, fd.Title, fd.Message, fd.Evidence.Text, fd.Why, fd.Fix)}})
			}
		}
	}
	s.Tests = len(s.Cases)
	return reports.Encode(w, s)
}

// SARIF 2.1.0: one run, the catalog as rules, one result per finding with a physical location.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Results     []sarifResult     `json:"results"`
	Invocations []sarifInvocation `json:"invocations"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	ShortDescription     sarifText         `json:"shortDescription"`
	FullDescription      sarifText         `json:"fullDescription"`
	Help                 sarifText         `json:"help"`
	DefaultConfiguration sarifRuleConfig   `json:"defaultConfiguration"`
	Properties           map[string]string `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int        `json:"startLine"`
	Snippet   *sarifText `json:"snippet,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

// sarifLevel maps severities onto SARIF's levels.
func sarifLevel(s findings.Severity) string {
	switch {
	case s >= findings.High:
		return "error"
	case s >= findings.Medium:
		return "warning"
	}
	return "note"
}

func location(file string, line int, snippet string) sarifLocation {
	loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: filepath.ToSlash(file)}}}
	if line > 0 {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: line}
		if snippet != "" {
			loc.PhysicalLocation.Region.Snippet = &sarifText{Text: snippet}
		}
	}
	return loc
}

func writeSARIF(w io.Writer, r *Result) error {
	cat := findings.Catalog()
	index := map[string]int{}
	driver := sarifDriver{Name: "reachgate lint"}
	for i, e := range cat {
		index[e.ID] = i
		detectors := append([]string(nil), e.Detectors...)
		sort.Strings(detectors)
		driver.Rules = append(driver.Rules, sarifRule{ID: e.ID, Name: ruleName(e.Title), ShortDescription: sarifText{e.Title},
			FullDescription: sarifText{e.Why}, Help: sarifText{"Fix: " + e.Fix}, DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(e.Severity)},
			Properties: map[string]string{"severity": e.Severity.String(), "detectors": strings.Join(detectors, ",")}})
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	for _, f := range r.Findings() {
		run.Results = append(run.Results, sarifResult{RuleID: f.ID, RuleIndex: index[f.ID], Level: sarifLevel(f.Severity),
			Message:   sarifText{f.Message + ". Fix: " + f.Fix},
			Locations: []sarifLocation{location(f.Evidence.File, f.Evidence.Line, f.Evidence.Text)}})
	}
	inv := sarifInvocation{ExecutionSuccessful: len(r.Errors()) == 0}
	for _, e := range r.Errors() {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: "error", Message: sarifText{e.Msg},
			Locations: []sarifLocation{location(e.File, e.Line, "")}})
	}
	run.Invocations = []sarifInvocation{inv}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// ruleName is a title in PascalCase without punctuation, as SARIF rule names are.
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
