package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/solution/ilbproxy"
)

// benchFlags are the flags of `reachgate bench`.
type benchFlags struct {
	env         envFlags
	host        string
	requests    int
	concurrency int
	rounds      int
}

func newBenchCommand() *cobra.Command {
	var f benchFlags
	c := &cobra.Command{
		Use:   "bench ilb-proxy|bgp-export|bgp-export-api",
		Short: "Compare GET /version latency and throughput: direct from a GKE node, and from the third-party client through each proxy",
		Long: "Measures in interleaved rounds: each round applies each proxy in turn (starting with a different\n" +
			"one each round), measures the direct path and then the path through the proxy. Per path it reports\n" +
			"the median over all measurements of p50, p99 and req/s, and the p99 range; the p99 overhead is the\n" +
			"median of the differences between each proxy measurement and the direct one just before it, so\n" +
			"that load from elsewhere on the shared machine weighs on both sides of a difference.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "bgp-export":
				return runBenchBGP(cmd.Context(), f, os.Stdout)
			case "bgp-export-api":
				return runBenchBGPAPI(cmd.Context(), f, os.Stdout)
			case "ilb-proxy":
			default:
				return fmt.Errorf("benchmark %q: supported: ilb-proxy, bgp-export, bgp-export-api", args[0])
			}
			return runBench(cmd.Context(), f, os.Stdout)
		},
	}
	f.env.register(c)
	c.Flags().StringVar(&f.host, "host", "", "host that reaches the control plane through the solution (default: the topology's third-party client)")
	c.Flags().IntVar(&f.requests, "requests", 1500, "requests per measurement")
	c.Flags().IntVar(&f.concurrency, "concurrency", 8, "parallel connections")
	c.Flags().IntVar(&f.rounds, "rounds", 15, "interleaved rounds; each measures every proxy once, each after the direct path")
	return c
}

// benchPath is one measured path and its result in every round.
type benchPath struct {
	name  string
	proxy ilbproxy.Proxy // "" for the direct path
	runs  []probe.LoadResult
	// baseline holds the direct path's result measured just before each run.
	baseline []probe.LoadResult
}

func runBench(ctx context.Context, f benchFlags, out io.Writer) error {
	if f.requests < 1 || f.concurrency < 1 || f.rounds < 1 {
		return errors.New("--requests, --concurrency and --rounds must be at least 1")
	}
	env, err := f.env.attach(ctx)
	if err != nil {
		return err
	}
	if f.host, err = clientHost(env, f.host); err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	cl := env.Cluster()
	if len(cl.Nodes) == 0 {
		return fmt.Errorf("%s has no cluster node to measure the direct path from", f.env.describe(env))
	}
	node, err := env.Host(cl.Nodes[0])
	if err != nil {
		return err
	}
	tp, err := env.Host(f.host)
	if err != nil {
		return err
	}
	direct := &benchPath{name: "direct from " + cl.Nodes[0] + " to " + cl.PrivateEndpoint.String()}
	paths := []*benchPath{direct}
	byProxy := map[ilbproxy.Proxy]*benchPath{}
	for _, p := range ilbproxy.Proxies {
		bp := &benchPath{name: f.host + " through ILB + " + string(p), proxy: p}
		paths = append(paths, bp)
		byProxy[p] = bp
	}
	load := func(d provider.Host, r probe.HTTPSRequest) (probe.LoadResult, error) {
		return probe.Load(ctx, d, r, f.requests, f.concurrency)
	}

	directReq := probe.HTTPSRequest{URL: "https://" + cl.PrivateEndpoint.String() + "/version", CAPEM: cl.CAPEM}
	start := time.Now()
	for round := range f.rounds {
		// Rotate the order so that no proxy always runs first or last.
		n := len(ilbproxy.Proxies)
		for i := range n {
			p := ilbproxy.Proxies[(round+i)%n]
			res, err := ilbproxy.Apply(ctx, env, ilbproxy.Options{Proxy: p, Log: quiet})
			if err != nil {
				return fmt.Errorf("round %d: apply %s: %w", round+1, p, err)
			}
			// The direct path is measured right before each proxy, so that
			// every overhead compares two measurements seconds apart.
			d, err := load(node, directReq)
			if err != nil {
				return fmt.Errorf("round %d: direct: %w", round+1, err)
			}
			lr, err := load(tp, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: res.CAPEM, ServerName: res.TLSServerName, Token: res.Token})
			if err != nil {
				return fmt.Errorf("round %d: through %s: %w", round+1, p, err)
			}
			direct.runs = append(direct.runs, d)
			bp := byProxy[p]
			bp.runs = append(bp.runs, lr)
			bp.baseline = append(bp.baseline, d)
		}
		last := func(p ilbproxy.Proxy) string { r := byProxy[p].runs; return ms(r[len(r)-1].P99) }
		slog.Info("round measured", "round", round+1, "of", f.rounds, "elapsed", time.Since(start).Round(time.Second),
			"nginxP99", last(ilbproxy.Nginx), "goL7P99", last(ilbproxy.GoL7), "goL4P99", last(ilbproxy.GoL4))
	}
	if err := ilbproxy.Remove(ctx, env, ilbproxy.Options{Log: quiet}); err != nil {
		return err
	}
	return report(out, f, paths)
}

// report prints the table and the verdict.
func report(out io.Writer, f benchFlags, paths []*benchPath) error {
	overhead := func(bp *benchPath) time.Duration {
		if bp.baseline == nil {
			return 0
		}
		d := make([]time.Duration, len(bp.runs))
		for i, r := range bp.runs {
			d[i] = r.P99 - bp.baseline[i].P99
		}
		return median(d)
	}
	fmt.Fprintf(out, "GET /version, %d rounds x %d requests over %d kept-alive connections per measurement; medians over the rounds\n",
		f.rounds, f.requests, f.concurrency)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tP50\tP99\tP99 MIN..MAX\tP99 OVER DIRECT\tREQ/S\tERRORS")
	for _, bp := range paths {
		p50 := median(field(bp.runs, func(r probe.LoadResult) time.Duration { return r.P50 }))
		p99s := field(bp.runs, func(r probe.LoadResult) time.Duration { return r.P99 })
		rps := median(field(bp.runs, func(r probe.LoadResult) float64 { return r.PerSec }))
		errs := 0
		for _, r := range bp.runs {
			errs += r.Errors
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s..%s\t%s\t%.0f\t%d\n", bp.name, ms(p50), ms(median(p99s)),
			ms(slices.Min(p99s)), ms(slices.Max(p99s)), ms(overhead(bp)), rps, errs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	find := func(p ilbproxy.Proxy) *benchPath {
		i := slices.IndexFunc(paths, func(bp *benchPath) bool { return bp.proxy == p })
		return paths[i]
	}
	ngx := find(ilbproxy.Nginx)
	for _, p := range []ilbproxy.Proxy{ilbproxy.GoL7, ilbproxy.GoL4} {
		bp := find(p)
		// Head to head: both were measured in each round, seconds apart.
		diffs := make([]time.Duration, len(bp.runs))
		wins := 0
		for i, r := range bp.runs {
			diffs[i] = r.P99 - ngx.runs[i].P99
			if diffs[i] <= 0 {
				wins++
			}
		}
		o, no := overhead(bp), overhead(ngx)
		verdict := "NO: worse than nginx"
		if o <= no {
			verdict = "yes"
		}
		fmt.Fprintf(out, "%s p99 overhead %s <= nginx's %s: %s (p99 at most nginx's in %d of %d rounds; median difference %s)\n",
			p, ms(o), ms(no), verdict, wins, len(diffs), ms(median(diffs)))
	}
	return nil
}

func field[T any](runs []probe.LoadResult, get func(probe.LoadResult) T) []T {
	out := make([]T, len(runs))
	for i, r := range runs {
		out[i] = get(r)
	}
	return out
}

// median of a non-empty sample; the mean of the middle two for an even count.
func median[T time.Duration | float64](s []T) T {
	s = slices.Clone(s)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
