package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Where a spec was proven: on the lab (its own realization), on the lab through its GCP API
// (the gcp provider built the environment with Google's clients against the lab, or the spec
// drove the API itself: label gcp-api), or on GCP (a real project; the nightly run).
const (
	ProvenLab    = "lab"
	ProvenLabAPI = "lab via the GCP API"
	ProvenGCP    = "GCP"
	// PropertyProvenOn is the JUnit suite property the harness writes it in.
	PropertyProvenOn = "proven-on"
	// NightlyJSON is the results.json of the last nightly run on GCP, put beside the run's
	// reports (reachgate report --nightly FILE) to date what GCP has proven.
	NightlyJSON = "nightly.json"
)

// FidelityRow is one spec, by its ID (the suite without its topology or provider, and the
// spec's text), and where it passed: in this run, and on GCP at the last nightly run.
type FidelityRow struct {
	ID     string   `json:"id"`
	Proven []string `json:"proven"`
	// GCP is when the last nightly run on GCP passed it ("" never).
	GCP string `json:"gcp,omitempty"`
}

// baseSuite is a suite's name without its topology ("@alt") or provider ("-on-gcp").
func baseSuite(name string) string {
	name, _, _ = strings.Cut(name, "@")
	name, _, _ = strings.Cut(name, "-on-")
	return name
}

// specID is a spec's ID: its suite without topology or provider, and its text without the
// labels the report appends.
func specID(suite, spec string) string {
	if i := strings.LastIndex(spec, " ["); i > 0 && strings.HasSuffix(spec, "]") {
		spec = spec[:i]
	}
	return baseSuite(suite) + " › " + spec
}

// specProof is where a passed spec of suite su was proven.
func specProof(su SuiteResult, sp SpecResult) string {
	where := su.ProvenOn
	if where == "" {
		where = ProvenLab
	}
	if where == ProvenLab && slices.Contains(sp.Labels, "gcp-api") {
		where = ProvenLabAPI
	}
	return where
}

// computeFidelity fills r.Fidelity from the passed specs of this run and of a nightly run's
// results (nil: none).
func (r *Results) computeFidelity(nightly *Results) {
	rows := map[string]*FidelityRow{}
	var order []string
	row := func(id string) *FidelityRow {
		if rows[id] == nil {
			rows[id] = &FidelityRow{ID: id}
			order = append(order, id)
		}
		return rows[id]
	}
	for _, su := range r.Suites {
		for _, sp := range su.Specs {
			if sp.State != "passed" {
				continue
			}
			fr := row(specID(su.Name, sp.Name))
			if w := specProof(su, sp); !slices.Contains(fr.Proven, w) {
				fr.Proven = append(fr.Proven, w)
			}
		}
	}
	if nightly != nil {
		when := nightly.Meta.Finished
		if when.IsZero() {
			when = nightly.Meta.Generated
		}
		for _, su := range nightly.Suites {
			for _, sp := range su.Specs {
				if sp.State == "passed" && specProof(su, sp) == ProvenGCP {
					row(specID(su.Name, sp.Name)).GCP = when.UTC().Format("2006-01-02")
				}
			}
		}
	}
	for _, id := range order {
		slices.SortFunc(rows[id].Proven, func(a, b string) int { return rank(a) - rank(b) })
		r.Fidelity = append(r.Fidelity, *rows[id])
	}
}

func rank(where string) int { return slices.Index([]string{ProvenLab, ProvenLabAPI, ProvenGCP}, where) }

// readNightly reads dir's nightly.json, nil when there is none.
func readNightly(dir string) (*Results, error) {
	data, err := os.ReadFile(filepath.Join(dir, NightlyJSON))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var n Results
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("%s: %w (want the results.json of a nightly run)", filepath.Join(dir, NightlyJSON), err)
	}
	return &n, nil
}
