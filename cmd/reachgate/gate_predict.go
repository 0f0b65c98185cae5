package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/gate"
	"reachgate/reports"
)

func newGatePredictCommand() *cobra.Command {
	var baseline, plan, junit, reportDir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "predict --baseline FILE --plan FILE",
		Short: "Apply a Terraform plan (terraform show -json) to the baseline's model offline and say which flows change verdict; exit 1 on a regression",
		Long: "Reads a gate snapshot that carries the environment's model and the JSON of a Terraform plan,\n" +
			"applies each resource change to a copy of the model and traces every baseline flow before and\n" +
			"after. Nothing is attached to. Every change is listed as modelled, with its effect, or as not\n" +
			"modelled, with why. Exits 1 when a flow the baseline reached would become unreachable, 2 on a\n" +
			"bad baseline or plan.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(baseline)
			if err != nil {
				return exitErrorf(2, "%s: cannot read the baseline: %v", baseline, err)
			}
			b, err := gate.ParseSnapshot(baseline, data)
			if err != nil {
				return exitErrorf(2, "%v", err)
			}
			base := *b
			data, err = os.ReadFile(plan)
			if err != nil {
				return exitErrorf(2, "%s: cannot read the plan: %v", plan, err)
			}
			p, err := gate.ParsePlan(plan, data)
			if err != nil {
				return exitErrorf(2, "%v", err)
			}
			pred, err := gate.Predict(&base, p)
			var pe *gate.PlanError
			switch {
			case errors.As(err, &pe):
				return exitErrorf(2, "%s: %v", plan, err)
			case err != nil:
				return exitErrorf(2, "%s: %v", baseline, err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				if err := enc.Encode(pred); err != nil {
					return err
				}
			} else {
				fmt.Fprint(cmd.OutOrStdout(), pred.Text())
			}
			if junit != "" {
				if err := writePredictJUnit(junit, pred); err != nil {
					return err
				}
			}
			if reportDir != "" {
				if err := reports.AppendGateRun(reportDir, predictRun(baseline, plan, pred)); err != nil {
					return err
				}
			}
			if pred.Regression {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&baseline, "baseline", "", "snapshot with the environment's model (reachgate gate snapshot)")
	c.Flags().StringVar(&plan, "plan", "", "the plan as JSON: terraform show -json PLANFILE > FILE")
	c.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	c.Flags().StringVar(&junit, "junit", "", "also write JUnit XML here: one testcase per baseline flow and per resource change")
	c.Flags().StringVar(&reportDir, "report-dir", "", "also record the prediction in DIR/gate.json, which reachgate report shows (e.g. reports/out)")
	_ = c.MarkFlagRequired("baseline")
	_ = c.MarkFlagRequired("plan")
	return c
}

// writePredictJUnit writes a prediction as JUnit: one testcase per baseline flow (failed when
// it regresses) and one per resource change (skipped with the reason when not modelled).
func writePredictJUnit(path string, p *gate.Prediction) error {
	suite := reports.Suite{Name: "gate predict", Timestamp: time.Now().UTC().Format(time.RFC3339)}
	for _, f := range p.Flows {
		c := reports.Case{Name: "flow " + f.Flow, Classname: "gate.predict.flows"}
		var out []string
		if f.Changed() {
			out = append(out, fmt.Sprintf("%s -> %s (baseline probe: %s)", predictVerdict(f.Before), predictVerdict(f.After), f.Baseline), f.WhyAfter)
		}
		if f.Note != "" {
			out = append(out, "note: "+f.Note)
		}
		if f.Regression {
			c.Failure = &reports.Failure{Message: fmt.Sprintf("%s at the baseline, unreachable after the plan", f.Baseline), Type: "regression", Text: f.WhyAfter}
			suite.Failures++
		}
		c.SystemOut = strings.Join(out, "\n")
		suite.Cases = append(suite.Cases, c)
	}
	for _, ch := range p.Changes {
		c := reports.Case{Name: ch.Address + " (" + strings.Join(ch.Actions, ", ") + ")", Classname: "gate.predict.changes"}
		if ch.Modelled {
			c.SystemOut = ch.Effect
		} else {
			c.Skipped = &reports.Skipped{Message: "not modelled: " + ch.Effect}
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	return reports.WriteSuite(path, suite)
}

func predictVerdict(ok bool) string {
	if ok {
		return "reachable"
	}
	return "unreachable"
}

// predictRun is a prediction as the report shows it: the flows that change verdict and every
// planned change with its effect.
func predictRun(baseline, plan string, p *gate.Prediction) reports.GateRun {
	run := reports.GateRun{Kind: "predict", Name: baseline + " + " + plan, When: time.Now().UTC(), Regression: p.Regression,
		Flows: []reports.GateFlow{}, Changes: []reports.GateChange{}}
	verdict := map[bool]string{true: "reachable", false: "unreachable"}
	for _, f := range p.Flows {
		if f.Before != f.After {
			run.Flows = append(run.Flows, reports.GateFlow{Flow: f.Flow, Before: verdict[f.Before], After: verdict[f.After], Why: f.WhyAfter, Regression: f.Regression})
		}
	}
	for _, c := range p.Changes {
		run.Changes = append(run.Changes, reports.GateChange{What: c.Address + " (" + strings.Join(c.Actions, ", ") + ")", After: c.Effect, NotModelled: !c.Modelled})
	}
	return run
}
