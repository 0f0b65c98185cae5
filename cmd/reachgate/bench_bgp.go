package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"reachgate/framework/probe"
	"reachgate/framework/provider"
	labprovider "reachgate/framework/provider/lab"
	"reachgate/framework/solution/bgpexport"
)

// runBenchBGP measures bgp-export on an environment of the bgp-export topology (a lab by
// default), f.rounds times: the time from Apply to the first 200 at f.host (the third-party client), the
// failover loss window when the tunnel carrying the flow is cut (20 requests/s, each on a
// new connection), and the time to 4/4 sessions after the tunnel is restored. Apply and
// Remove bracket each round.
func runBenchBGP(ctx context.Context, f benchFlags, out io.Writer) error {
	env, err := f.env.attach(ctx)
	if err != nil {
		return err
	}
	if f.host, err = clientHost(env, f.host); err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	ca, err := ability[provider.CloudAccess](env, f.env.provider, "hand out its cloud")
	if err != nil {
		return err
	}
	vc, err := ability[provider.VPNCloud](ca.Cloud(), f.env.provider, "drive HA VPN and Cloud Router")
	if err != nil {
		return err
	}
	faults, err := ability[provider.TunnelFaults](env, f.env.provider, "cut a VPN tunnel's underlay")
	if err != nil {
		return err
	}
	info, err := ca.Cloud().Cluster(ctx)
	if err != nil {
		return err
	}
	tp, err := env.Host(f.host)
	if err != nil {
		return err
	}
	rounds := f.rounds
	fmt.Fprintf(out, "bgp-export on %s: %d rounds (BGP keepalive 1 s, hold 3 s)\n", f.env.describe(env), rounds)
	fmt.Fprintln(out, "round\tapply→first 200\tloss window (cut carrying tunnel)\tfailed requests\trestore→4/4 sessions")
	for r := range rounds {
		start := time.Now()
		res, err := bgpexport.Apply(ctx, env, bgpexport.Options{Log: quiet})
		if err != nil {
			return err
		}
		get := func(ctx context.Context) error {
			x, err := probe.HTTPSGet(ctx, tp, probe.HTTPSRequest{URL: res.Server + "/version", CAPEM: res.CAPEM, Token: res.Token,
				Timeout: time.Second, NoKeepAlive: true})
			if err == nil && x.Status != 200 {
				err = fmt.Errorf("status %d", x.Status)
			}
			return err
		}
		for get(ctx) != nil {
			if time.Since(start) > time.Minute {
				return fmt.Errorf("no 200 at %s a minute after Apply", f.host)
			}
			time.Sleep(20 * time.Millisecond)
		}
		first := time.Since(start)
		carrying, err := faults.TunnelsCarrying(ctx, f.host, info.PrivateEndpoint)
		if err != nil || len(carrying) == 0 {
			return fmt.Errorf("which tunnel carries %s's flow: %v %v", f.host, carrying, err)
		}
		cutAt := make(chan time.Time, 1)
		go func() {
			time.Sleep(time.Second)
			cutAt <- time.Now()
			_ = faults.SetTunnelUnderlay(ctx, carrying[0], false)
		}()
		w := probe.Window(probe.Continuous(ctx, 20, 7*time.Second, get), <-cutAt)
		restored := time.Now()
		if err := faults.SetTunnelUnderlay(ctx, carrying[0], true); err != nil {
			return err
		}
		var back time.Duration
		for {
			st, err := vc.GetRouterStatus(ctx, res.Plan.Network, res.Plan.Router)
			if err == nil && st.Up() == len(res.Plan.Peers) {
				back = time.Since(restored)
				break
			}
			if time.Since(restored) > 30*time.Second {
				return fmt.Errorf("sessions not back 30 s after restoring %s", carrying[0])
			}
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(out, "%d\t%s\t%s\t%d of %d\t%s\n", r+1, ms(first), ms(w.LastFailure), w.Failures, w.Requests, ms(back))
		if err := bgpexport.Remove(ctx, env, bgpexport.Options{Log: quiet}); err != nil {
			return err
		}
	}
	return nil
}

// runBenchBGPAPI measures what the lab's GCP API adds to the bgp-export solution: in
// interleaved rounds (the order alternates), Apply — to every BGP session Established — and
// Remove, once with the cloud driven through the official clients over the lab's API and once
// in process. It prints each round and the medians; the overhead is the API's median Apply
// time over the in-process one.
func runBenchBGPAPI(ctx context.Context, f benchFlags, out io.Writer) error {
	env, err := f.env.attach(ctx)
	if err != nil {
		return err
	}
	defer os.Unsetenv(labprovider.InProcessEnv)
	quiet := slog.New(slog.DiscardHandler)
	times := map[string][]time.Duration{}
	fmt.Fprintf(out, "bgp-export Apply and Remove on %s: %d interleaved rounds, through the lab's GCP API and in process\n", f.env.describe(env), f.rounds)
	fmt.Fprintln(out, "round\tcloud\tapply (to 4/4 sessions)\tremove")
	for r := range f.rounds {
		modes := []string{"api", "in-process"}
		if r%2 == 1 {
			slices.Reverse(modes)
		}
		for _, mode := range modes {
			if mode == "api" {
				os.Unsetenv(labprovider.InProcessEnv)
			} else {
				os.Setenv(labprovider.InProcessEnv, "1")
			}
			start := time.Now()
			if _, err := bgpexport.Apply(ctx, env, bgpexport.Options{Log: quiet}); err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, mode, err)
			}
			apply := time.Since(start)
			start = time.Now()
			if err := bgpexport.Remove(ctx, env, bgpexport.Options{Log: quiet}); err != nil {
				return fmt.Errorf("round %d, %s: remove: %w", r+1, mode, err)
			}
			times[mode] = append(times[mode], apply)
			fmt.Fprintf(out, "%d\t%s\t%s\t%s\n", r+1, mode, ms(apply), ms(time.Since(start)))
		}
	}
	a, p := median(times["api"]), median(times["in-process"])
	fmt.Fprintf(out, "median apply: api %s, in-process %s; the API adds %s (%.1f %%; target < 10 %%)\n", ms(a), ms(p), ms(a-p), 100*float64(a-p)/float64(p))
	return nil
}
