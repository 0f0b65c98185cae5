package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"reachgate/framework/provider/gcp"
	"reachgate/framework/topology"
)

func newGCPPlanCommand() *cobra.Command {
	var (
		file, run, prices, tpRegion string
		hours                       float64
		asJSON                      bool
	)
	c := &cobra.Command{
		Use:   "plan [-f topology.yaml] [--run NAME] [--hours H]",
		Short: "List what a gcp-provider run of a topology creates in a project, and what it costs",
		Long: `Lists, in creation order, every resource a run of the topology creates with the gcp
provider (named rg-<run>-<name>, labelled and described with the run), who creates it
(provision, GKE, or a solution's suite), what is emulated (the third-party cloud played by a
VPC, its interconnect by an HA VPN pair), and an estimate of the run's cost from the price
table (fixtures/gcp/prices.yaml, or --prices): list prices per hour times --hours. Nothing
is called: it reads the topology only.`,
		Example: `  reachgate gcp plan --run nightly --hours 1.5
  reachgate gcp plan -f fixtures/topologies/bgp-export.yaml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, _, err := parseTopologyFile(file)
			if err != nil {
				return err
			}
			table, err := gcp.DefaultPrices()
			if prices != "" {
				var b []byte
				if b, err = os.ReadFile(prices); err == nil {
					table, err = gcp.ParsePrices(b)
				}
			}
			if err != nil {
				return exitErrorf(2, "%v", err)
			}
			p, err := gcp.PlanWith(t, gcp.PlanOptions{Run: run, Hours: hours, Prices: table, ThirdPartyRegion: tpRegion})
			if err != nil {
				return exitErrorf(2, "%v", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tSCOPE\tNAME\tBY\tFOR\tPER HOUR")
			for _, r := range p.Resources {
				what := r.For
				if r.Emulated {
					what += " [emulated]"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.4f\n", r.Kind, r.Scope, r.Name, r.By, what, r.Hourly)
			}
			tw.Flush()
			for _, n := range p.Notes {
				fmt.Fprintln(out, "note:", n)
			}
			fmt.Fprintf(out, "%d resources; %.4f %s per hour; a run of %.1f h: about %.2f %s (list prices of %s, see fixtures/gcp/prices.yaml)\n",
				len(p.Resources), p.Hourly, p.Currency, p.Hours, p.Cost, p.Currency, table.Region)
			return nil
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "topology file (default: the embedded seed topology)")
	c.Flags().StringVar(&run, "run", "nightly", "the run's name (part of every resource name)")
	c.Flags().Float64Var(&hours, "hours", 1.5, "how long the run's resources exist")
	c.Flags().StringVar(&prices, "prices", "", "another price table (the format of fixtures/gcp/prices.yaml)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	c.Flags().StringVar(&tpRegion, "third-party-region", gcp.DefaultThirdPartyRegion, "the GCP region that plays the third-party cloud")
	return c
}

// parseTopologyFile reads and parses a topology file (the embedded seed when file is "").
func parseTopologyFile(file string) (*topology.Topology, string, error) {
	source, data, err := readTopology(file)
	if err != nil {
		return nil, "", err
	}
	t, err := topology.Parse(source, data)
	return t, source, err
}
