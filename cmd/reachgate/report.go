package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"reachgate/reports"
)

func newReportCommand() *cobra.Command {
	var in, nightly string
	c := &cobra.Command{
		Use:   "report --in DIR",
		Short: "Build results.json and report.html from the suite reports in DIR (reports/out)",
		Long: "Reads DIR/ginkgo.json (ginkgo --json-report), else DIR/ginkgo/*.json (written by suites run alone),\n" +
			"else DIR/junit.xml; adds DIR/findings.json (a JSON list of {id, severity, title, evidence, fix})\n" +
			"when present; writes DIR/results.json and DIR/report.html (one static file, no external assets)\n" +
			"and prints a summary with each suite's wall, lab up and lab down seconds.\n" +
			"With only a results.json in DIR, regenerates report.html from it.\n" +
			"--nightly names the results.json of the last nightly run on GCP (copied to DIR/nightly.json):\n" +
			"the Fidelity section then dates each spec GCP has proven.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nightly != "" {
				data, err := os.ReadFile(nightly)
				if err != nil {
					return exitErrorf(2, "--nightly: %v", err)
				}
				if err := os.WriteFile(filepath.Join(in, reports.NightlyJSON), data, 0o644); err != nil {
					return err
				}
			}
			return runReport(cmd.Context(), in, os.Stdout)
		},
	}
	c.Flags().StringVar(&in, "in", "reports/out", "report directory")
	c.Flags().StringVar(&nightly, "nightly", "", "the last nightly run's results.json (its GCP verdicts date the Fidelity section)")
	return c
}

func runReport(ctx context.Context, dir string, stdout io.Writer) error {
	res, err := reports.Build(dir)
	if err != nil {
		return err
	}
	if res.Meta.Commit == "" {
		if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output(); err == nil {
			res.Meta.Commit = strings.TrimSpace(string(out))
			if err := res.WriteJSON(filepath.Join(dir, reports.ResultsJSON)); err != nil {
				return err
			}
			if err := reports.WriteHTML(filepath.Join(dir, reports.ReportHTML), res); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "%d specs: %d passed, %d failed, %d skipped; %d measurements, %d findings\n",
		res.Summary.Specs, res.Summary.Passed, res.Summary.Failed, res.Summary.Skipped, len(res.Measurements), len(res.Findings))
	// Per-suite wall, lab up and lab down seconds, so a slower run shows in the log.
	if err := res.Timing.WriteText(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n%s\n", filepath.Join(dir, reports.ResultsJSON), filepath.Join(dir, reports.ReportHTML))
	return nil
}
