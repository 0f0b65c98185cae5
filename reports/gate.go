package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// GateJSON is the file in a report directory where gate check and gate predict record their
// verdicts (a JSON list of GateRun, appended to by each run).
const GateJSON = "gate.json"

// GateRun is one gate check or prediction, as the report shows it.
type GateRun struct {
	// Kind is "check" (against a running environment) or "predict" (a plan, offline).
	Kind string `json:"kind"`
	// Name says against what: the baseline file, and the plan for a prediction.
	Name       string       `json:"name"`
	When       time.Time    `json:"when"`
	Regression bool         `json:"regression"`
	Flows      []GateFlow   `json:"flows"`
	Changes    []GateChange `json:"changes"`
}

// GateFlow is a watched flow whose verdict changed (or would change).
type GateFlow struct {
	Flow       string `json:"flow"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Why        string `json:"why,omitempty"`
	Regression bool   `json:"regression"`
}

// GateChange is a setting that changed, or a planned resource change and its effect.
type GateChange struct {
	What   string `json:"what"`
	Before string `json:"before,omitempty"`
	After  string `json:"after"`
	// Regression marks a change that is a regression by itself; NotModelled a planned change
	// the model could not apply.
	Regression  bool `json:"regression,omitempty"`
	NotModelled bool `json:"notModelled,omitempty"`
}

// AppendGateRun adds run to dir's gate.json.
func AppendGateRun(dir string, run GateRun) error {
	runs, err := readGateRuns(dir)
	if err != nil {
		return err
	}
	runs = append(runs, run)
	data, err := json.MarshalIndent(runs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, GateJSON), append(data, '\n'), 0o644)
}

// readGateRuns reads dir's gate.json; none when it does not exist.
func readGateRuns(dir string) ([]GateRun, error) {
	path := filepath.Join(dir, GateJSON)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []GateRun
	if err := json.Unmarshal(data, &runs); err != nil {
		return nil, fmt.Errorf("read %s: %w (want a JSON list of gate runs, as reachgate gate check --report-dir writes)", path, err)
	}
	return runs, nil
}
