package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"reachgate/framework/probe"
	"reachgate/framework/provider"
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
