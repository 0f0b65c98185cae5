package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/provider/gcp"
)

func newGCPJanitorCommand() *cobra.Command {
	var (
		g         gcpFlags
		olderThan time.Duration
		dryRun    bool
		run       string
		asJSON    bool
	)
	c := &cobra.Command{
		Use:   "janitor --project P --older-than 3h [--dry-run]",
		Short: "Delete what reachgate runs left in a project: only resources with a run's marks, in dependency order",
		Long: `Lists the project's instances, clusters, VPN tunnels and gateways, Cloud Routers, addresses,
firewall rules, subnetworks and networks, keeps those a reachgate run created (the name starts
with rg- and the resource has the label reachgate-run or a description starting "reachgate
run "), older than --older-than, and deletes them: what uses a resource before the resource.
Nothing without both marks is touched. --dry-run only lists. The nightly workflow runs it
after every run, whatever the run's outcome.`,
		Example: `  reachgate gcp janitor --project my-project --older-than 3h --dry-run
  reachgate gcp janitor --gcp-lab seed --older-than 0s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan < 0 {
				return exitErrorf(2, "--older-than %s: want a duration ≥ 0 (e.g. 3h)", olderThan)
			}
			c, _, project, err := g.cloud(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			found, err := c.FindLeftovers(cmd.Context(), gcp.JanitorOptions{OlderThan: olderThan, Run: run})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(found); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KIND\tSCOPE\tNAME\tRUN\tAGE")
				for _, l := range found {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Kind, l.Scope, l.Name, l.Run, time.Since(l.Created).Round(time.Second))
				}
				tw.Flush()
			}
			verb := "would delete"
			if !dryRun {
				verb = "deleting"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "janitor: project %s: %d resources of reachgate runs older than %s; %s them\n", project, len(found), olderThan, verb)
			if dryRun || len(found) == 0 {
				return nil
			}
			return c.DeleteLeftovers(cmd.Context(), found, cmd.ErrOrStderr())
		},
	}
	g.register(c)
	c.Flags().DurationVar(&olderThan, "older-than", 3*time.Hour, "keep what is younger (a run in progress)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list only")
	c.Flags().StringVar(&run, "run", "", "only this run's resources")
	c.Flags().BoolVar(&asJSON, "json", false, "list as JSON")
	return c
}
