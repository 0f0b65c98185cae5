package reports

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/onsi/ginkgo/v2/types"
)

// File names in a report directory (reports/out).
const (
	GinkgoJSON   = "ginkgo.json"   // `ginkgo --json-report=ginkgo.json --output-dir=DIR`: every suite
	GinkgoDir    = "ginkgo"        // <suite>.json written by suites themselves (when run alone)
	JUnitMerged  = "junit.xml"     // the harness's merged JUnit
	FindingsJSON = "findings.json" // a JSON list of Finding, from the findings catalog
	ResultsJSON  = "results.json"
	ReportHTML   = "report.html"
)

// Build makes results.json and report.html in dir from what the run left there. Sources, in
// order of preference: ginkgo.json (the CLI's combined JSON report); else ginkgo/*.json (one
// per suite); else junit.xml (states and labels only). Findings recorded by specs are
// joined by findings.json when present. With none of them but a results.json, only the
// HTML is regenerated from it.
func Build(dir string) (*Results, error) {
	res, err := load(dir)
	if err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(filepath.Join(dir, FindingsJSON)); err == nil {
		var fs []Finding
		if err := json.Unmarshal(data, &fs); err != nil {
			return nil, fmt.Errorf("read %s: %w (want a JSON list of {id, severity, title, evidence, fix})", filepath.Join(dir, FindingsJSON), err)
		}
		if err := res.AddFindings(fs); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FindingsJSON), err)
		}
		res.Meta.Source = append(res.Meta.Source, FindingsJSON)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	nightly, err := readNightly(dir)
	if err != nil {
		return nil, err
	}
	if nightly != nil {
		res.Meta.Source = append(res.Meta.Source, NightlyJSON)
	}
	res.Fidelity = nil
	res.computeFidelity(nightly)
	runs, err := readGateRuns(dir)
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		res.Gate = runs
		res.Meta.Source = append(res.Meta.Source, GateJSON)
	}
	if err := res.WriteJSON(filepath.Join(dir, ResultsJSON)); err != nil {
		return nil, err
	}
	if err := WriteHTML(filepath.Join(dir, ReportHTML), res); err != nil {
		return nil, err
	}
	return res, nil
}

func load(dir string) (*Results, error) {
	var reps []types.Report
	var sources []string
	if data, err := os.ReadFile(filepath.Join(dir, GinkgoJSON)); err == nil {
		if err := json.Unmarshal(data, &reps); err != nil {
			return nil, fmt.Errorf("read Ginkgo JSON report %s: %w", filepath.Join(dir, GinkgoJSON), err)
		}
		sources = append(sources, GinkgoJSON)
	} else {
		files, _ := filepath.Glob(filepath.Join(dir, GinkgoDir, "*.json"))
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			var one []types.Report
			if err := json.Unmarshal(data, &one); err != nil {
				return nil, fmt.Errorf("read Ginkgo JSON report %s: %w", f, err)
			}
			reps = append(reps, one...)
			sources = append(sources, filepath.Join(GinkgoDir, filepath.Base(f)))
		}
	}
	var res *Results
	switch {
	case len(sources) > 0:
		res = FromGinkgoReports(reps)
	default:
		data, err := os.ReadFile(filepath.Join(dir, JUnitMerged))
		if err == nil {
			var doc Suites
			if err := xml.Unmarshal(data, &doc); err != nil {
				return nil, fmt.Errorf("read JUnit %s: %w", filepath.Join(dir, JUnitMerged), err)
			}
			res = FromJUnit(doc)
			sources = append(sources, JUnitMerged)
			break
		}
		data, err = os.ReadFile(filepath.Join(dir, ResultsJSON))
		if _, gerr := os.Stat(filepath.Join(dir, GateJSON)); err != nil && gerr == nil {
			// Only gate verdicts (a pull request's gate predict): a report of them alone.
			res = FromGinkgoReports(nil)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("nothing to report in %s: no %s, %s/*.json, %s or %s (run the suites with --json-report=%s --output-dir=%s)",
				dir, GinkgoJSON, GinkgoDir, JUnitMerged, ResultsJSON, GinkgoJSON, dir)
		}
		res = &Results{}
		if err := json.Unmarshal(data, res); err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, ResultsJSON), err)
		}
		return res, nil
	}
	res.Meta.Source = sources
	// Provider, topology and where each suite ran come from the JUnit properties the harness
	// writes.
	if data, err := os.ReadFile(filepath.Join(dir, JUnitMerged)); err == nil {
		var doc Suites
		if xml.Unmarshal(data, &doc) == nil {
			provenOn := map[string]string{}
			for _, su := range doc.Suites {
				for _, p := range su.Properties {
					switch p.Name {
					case "provider":
						if res.Meta.Provider == "" {
							res.Meta.Provider = p.Value
						}
					case "topology":
						if res.Meta.Topology == "" {
							res.Meta.Topology = p.Value
						}
					case PropertyProvenOn:
						provenOn[su.Name] = p.Value
					}
				}
			}
			for i := range res.Suites {
				res.Suites[i].ProvenOn = provenOn[res.Suites[i].Name]
			}
		}
	}
	return res, nil
}
