package main

import (
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/probe"
	"reachgate/framework/solution/ilbproxy"
)

func newBenchCommand() *cobra.Command {
	var name string
	var n, conc int
	c := &cobra.Command{
		Use:   "bench ilb-proxy",
		Short: "Compare GET /version latency and throughput: direct from a GKE node, and from tp-vm through each proxy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "ilb-proxy" {
				return fmt.Errorf("benchmark %q: supported: ilb-proxy", args[0])
			}
			ctx := cmd.Context()
			lname, err := resolveName(name)
			if err != nil {
				return err
			}
			env, err := openLab(lname)
			if err != nil {
				return err
			}
			quiet := slog.New(slog.DiscardHandler)
			cl := env.Cluster()
			node, err := env.Host(cl.Nodes[0])
			if err != nil {
				return err
			}
			tp, err := env.Host("tp-vm")
			if err != nil {
				return err
			}
			type row struct {
				path string
				res  probe.LoadResult
			}
			direct, err := probe.Load(ctx, node, probe.HTTPSRequest{URL: "https://" + cl.PrivateEndpoint + "/version", CAPEM: cl.CAPEM}, n, conc)
			if err != nil {
				return fmt.Errorf("direct: %w", err)
			}
			rows := []row{{"direct from " + cl.Nodes[0] + " to " + cl.PrivateEndpoint, direct}}
			for _, p := range ilbproxy.Proxies {
				res, err := ilbproxy.Apply(ctx, env, ilbproxy.Options{Proxy: p, Log: quiet})
				if err != nil {
					return fmt.Errorf("apply %s: %w", p, err)
				}
				lr, err := probe.Load(ctx, tp, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: res.CAPEM, ServerName: res.TLSServerName, Token: res.Token}, n, conc)
				if err != nil {
					return fmt.Errorf("through %s: %w", p, err)
				}
				rows = append(rows, row{"tp-vm through ILB + " + string(p), lr})
				slog.Info("measured", "proxy", p, "p50", lr.P50, "p99", lr.P99)
			}
			if err := ilbproxy.Remove(ctx, env, ilbproxy.Options{Log: quiet}); err != nil {
				return err
			}
			fmt.Printf("GET /version, %d requests over %d kept-alive connections each\n", n, conc)
			tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tP50\tP99\tP99 OVER DIRECT\tREQ/S\tERRORS")
			ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%d\n", r.path, ms(r.res.P50), ms(r.res.P99), ms(r.res.P99-direct.P99), r.res.PerSec, r.res.Errors)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the only lab)")
	c.Flags().IntVar(&n, "requests", 3000, "requests per path")
	c.Flags().IntVar(&conc, "concurrency", 8, "parallel connections")
	return c
}
