//go:build linux

package wan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"reachgate/lab/netns"
)

// Tolerance is how far a measured round trip may be from the configured one (fraction), and
// Floor the least that is always allowed: below a few milliseconds the userspace element's
// timer and scheduling granularity (measured: 0.1-0.6 ms over a 2 ms profile, on 2 cores) is
// larger than 15 %.
const (
	Tolerance = 0.15
	Floor     = 500 * time.Microsecond
)

// Result is one profile's measurement on a Chain.
type Result struct {
	Profile    string
	Configured time.Duration // the impairment's round trip
	Base       time.Duration // the chain's round trip without the element
	TCP, UDP   RTT
}

// Within reports whether what the element adds to the round trip (median less Base) is
// within Tolerance of Configured, over TCP and UDP.
func (r Result) Within() bool {
	return within(r.TCP.Median-r.Base, r.Configured) && within(r.UDP.Median-r.Base, r.Configured)
}

func within(got, want time.Duration) bool {
	d := float64(got - want)
	allowed := max(Tolerance*float64(want), float64(Floor))
	return d <= allowed && -d <= allowed
}

// SelfCheck builds a Chain with namespaces named prefix-a/-r/-b, applies each profile to
// its link with bin as the daemon, measures TCP-connect and UDP-echo round trips (n each),
// and writes configured vs measured to w. It fails when a profile is off by more than
// Tolerance, or when removal does not restore the base round trip.
func SelfCheck(ctx context.Context, bin, prefix string, profiles []string, n int, w io.Writer) ([]Result, error) {
	for _, p := range profiles {
		if _, ok := Profiles[p]; !ok {
			_, err := Resolve(p)
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "reachgate-wan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	c, err := NewChain(ctx, prefix)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := &netns.State{Name: "wan-selfcheck", Dir: dir}
	base, err := c.TCPConnectRTT(ctx, n, false)
	if err != nil {
		return nil, err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "profile\tconfigured rtt\ttcp connect (median)\tudp echo (median)\tbase rtt\tverdict\n")
	var results []Result
	var errs []error
	for _, name := range profiles {
		imp := Profiles[name]
		r, err := measure(ctx, c, st, bin, dir, name, imp, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.Base = base.Median
		verdict := "ok"
		if !r.Within() && imp.Delay > 0 {
			verdict = fmt.Sprintf("OFF by more than %.0f%%", 100*Tolerance)
			errs = append(errs, fmt.Errorf("profile %s: measured tcp %v, udp %v; want %v ±%.0f%%", name, r.TCP.Median, r.UDP.Median, r.Configured, 100*Tolerance))
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%v\t%s\n", name, r.Configured, r.TCP.Median.Round(10*time.Microsecond),
			r.UDP.Median.Round(10*time.Microsecond), base.Median.Round(10*time.Microsecond), verdict)
		results = append(results, r)
	}
	after, err := c.TCPConnectRTT(ctx, n, false)
	if err == nil && after.Median > base.Median+time.Millisecond {
		err = fmt.Errorf("after removal the round trip is %v; before the first profile it was %v", after.Median, base.Median)
	}
	errs = append(errs, err)
	fmt.Fprintf(tw, "(removed)\t0s\t%v\t-\t%v\t\n", after.Median.Round(10*time.Microsecond), base.Median.Round(10*time.Microsecond))
	tw.Flush()
	return results, errors.Join(errs...)
}

func measure(ctx context.Context, c *Chain, st Starter, bin, dir, name string, imp Impairment, n int) (Result, error) {
	p, err := Apply(ctx, st, bin, dir, c.Link, imp)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = Remove(context.WithoutCancel(ctx), c.Link, p) }()
	r := Result{Profile: name, Configured: imp.RTT()}
	if r.TCP, err = c.TCPConnectRTT(ctx, n, false); err != nil {
		return r, err
	}
	if r.UDP, err = c.UDPEchoRTT(ctx, n); err != nil {
		return r, err
	}
	return r, nil
}
