package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/gate"
	"reachgate/framework/gcpimport"
	"reachgate/framework/probe"
	"reachgate/reports"
)

func newGateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "gate",
		Short: "The acceptance gate before a change: snapshot what decides reachability, then check against it",
	}
	c.AddCommand(newGateSnapshotCommand(), newGateCheckCommand(), newGatePredictCommand())
	return c
}

func newGateSnapshotCommand() *cobra.Command {
	var env envFlags
	var out string
	var opts gateOptions
	c := &cobra.Command{
		Use:   "snapshot -o FILE",
		Short: "Read the Cloud Routers, peerings and authorized networks through the cloud API, probe the private endpoint from every third-party client, write JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := env.attach(cmd.Context())
			if err != nil {
				return err
			}
			o, err := opts.options()
			if err != nil {
				return err
			}
			s, err := gate.Take(cmd.Context(), e, o)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot of %s: %d routers, %d peerings, %d flows -> %s\n", s.Topology, len(s.Routers), len(s.Peerings), len(s.Flows), out)
			return nil
		},
	}
	env.register(c)
	opts.register(c)
	c.Flags().StringVarP(&out, "output", "o", "", "file to write the snapshot to")
	_ = c.MarkFlagRequired("output")
	return c
}

func newGateCheckCommand() *cobra.Command {
	var env envFlags
	var baseline string
	var asJSON bool
	var junit, reportDir string
	var opts gateOptions
	c := &cobra.Command{
		Use:   "check --baseline FILE",
		Short: "Take a new snapshot and name what changed since the baseline; exit 1 on a regression (a flow that broke, a BGP session lost)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(baseline)
			if err != nil {
				return err
			}
			b, err := gate.ParseSnapshot(baseline, data)
			if err != nil {
				return exitErrorf(2, "%v", err)
			}
			base := *b
			e, err := env.attach(cmd.Context())
			if err != nil {
				return err
			}
			o, err := opts.options()
			if err != nil {
				return err
			}
			for _, f := range base.Flows {
				if spec, err := gate.ParseFlowSpec(f.From + "=" + f.To); err == nil && !o.Watches(spec) {
					o.Flows = append(o.Flows, spec) // every flow of the baseline is probed again
				}
			}
			cur, err := gate.Take(cmd.Context(), e, o)
			if err != nil {
				return err
			}
			r, err := gate.Compare(&base, cur)
			if err != nil {
				return exitErrorf(2, "%s: %v", baseline, err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				fmt.Fprint(cmd.OutOrStdout(), r.Text())
			}
			if junit != "" {
				if err := writeGateJUnit(junit, &base, r); err != nil {
					return err
				}
			}
			if reportDir != "" {
				if err := reports.AppendGateRun(reportDir, checkRun(baseline, r)); err != nil {
					return err
				}
			}
			if r.Regression {
				return exitError{1}
			}
			return nil
		},
	}
	env.register(c)
	c.Flags().StringVar(&baseline, "baseline", "", "snapshot taken before the change (reachgate gate snapshot)")
	c.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	c.Flags().StringVar(&junit, "junit", "", "also write JUnit XML here: one testcase per baseline flow and per changed setting")
	c.Flags().StringVar(&reportDir, "report-dir", "", "also record the verdict in DIR/gate.json, which reachgate report shows (e.g. reports/out)")
	opts.register(c)
	_ = c.MarkFlagRequired("baseline")
	return c
}

// checkRun is a check as the report shows it.
func checkRun(baseline string, r *gate.Result) reports.GateRun {
	run := reports.GateRun{Kind: "check", Name: baseline, When: r.Now, Regression: r.Regression,
		Flows: []reports.GateFlow{}, Changes: []reports.GateChange{}}
	for _, f := range r.Flows {
		run.Flows = append(run.Flows, reports.GateFlow{Flow: f.Flow, Before: string(f.Before), After: string(f.After), Why: f.WhyAfter, Regression: f.Regression})
	}
	for _, c := range r.Changes {
		run.Changes = append(run.Changes, reports.GateChange{What: c.What, Before: c.Before, After: c.After, Regression: c.Regression})
	}
	return run
}

// gateOptions are the flags that shape a snapshot.
type gateOptions struct {
	timeout  time.Duration
	flows    []string
	external string
	profile  string
	budgets  string
}

func (g *gateOptions) register(c *cobra.Command) {
	c.Flags().DurationVar(&g.timeout, "timeout", 2*time.Second, "connect deadline of each probed flow")
	c.Flags().StringArrayVar(&g.flows, "flow", nil, "also watch this flow, HOST=ADDR:PORT (repeatable), e.g. tp-vm=10.128.0.3:22")
	c.Flags().StringVar(&g.external, "external", "", "the third-party side (kind: ThirdParty) merged into the imported model; default the environment's own")
	c.Flags().StringVar(&g.profile, "profile", "none", "network profile whose p95 budget GET /version is held to (see fixtures/budgets.yaml)")
	c.Flags().StringVar(&g.budgets, "budgets", os.Getenv("REACHGATE_BUDGETS"), "budgets file instead of the embedded one ($REACHGATE_BUDGETS)")
}

func (g gateOptions) options() (gate.Options, error) {
	o := gate.Options{Timeout: g.timeout, Profile: g.profile}
	if g.budgets != "" {
		b, err := probe.LoadBudgetsFile(g.budgets)
		if err != nil {
			return o, exitErrorf(2, "--budgets: %v", err)
		}
		o.Budgets = b
	}
	for _, f := range g.flows {
		spec, err := gate.ParseFlowSpec(f)
		if err != nil {
			return o, exitErrorf(2, "--flow: %v", err)
		}
		o.Flows = append(o.Flows, spec)
	}
	if g.external != "" {
		ext, err := gcpimport.ReadExternal(g.external)
		if err != nil {
			return o, exitErrorf(2, "--external: %v", err)
		}
		o.External = ext
	}
	return o, nil
}

// writeGateJUnit writes a check as JUnit: one testcase per flow of the baseline (failed when
// it regressed) and one per changed setting (failed when the change is a regression).
func writeGateJUnit(path string, base *gate.Snapshot, r *gate.Result) error {
	suite := reports.Suite{Name: "gate check", Timestamp: r.Now.Format(time.RFC3339)}
	changed := map[string]gate.FlowChange{}
	for _, f := range r.Flows {
		changed[f.Flow] = f
	}
	for _, f := range base.Flows {
		name := f.From + " -> " + f.To
		c := reports.Case{Name: "flow " + name, Classname: "gate.flows"}
		if fc, ok := changed[name]; ok {
			msg := fmt.Sprintf("%s -> %s", fc.Before, fc.After)
			if fc.Regression {
				c.Failure = &reports.Failure{Message: msg, Type: "regression", Text: fc.WhyAfter}
				suite.Failures++
			} else {
				c.SystemOut = msg + "\n" + fc.WhyAfter
			}
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, ch := range r.Changes {
		c := reports.Case{Name: ch.What, Classname: "gate.settings", SystemOut: ch.Before + " -> " + ch.After}
		if ch.Regression {
			c.Failure = &reports.Failure{Message: ch.Before + " -> " + ch.After, Type: "regression"}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	return reports.WriteSuite(path, suite)
}

// exitErrorf prints the message and exits with code.
func exitErrorf(code int, format string, a ...any) error {
	fmt.Fprintf(os.Stderr, "reachgate: "+format+"\n", a...)
	return exitError{code}
}
