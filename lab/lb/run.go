package lb

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopTimeout bounds the table removal on shutdown, after the caller's context is done.
const stopTimeout = 10 * time.Second

// Run is the health-checker daemon of one LB; it runs inside the VPC router namespace, so
// its checks come from the router and `nft` changes the router's rules. Every Interval it
// re-reads the spec, TCP-connects to each backend's first port, and replaces the table
// when the set of backends to use changed. A dead backend gets no new connection after at
// most UnhealthyThreshold×Interval + Timeout (≤ 2×Interval with the lab's threshold 1).
// When ctx is done it removes the table and its status file.
func Run(ctx context.Context, specPath string, log *slog.Logger) error {
	s, err := LoadSpec(specPath)
	if err != nil {
		return err
	}
	d := &daemon{path: specPath, log: log.With("lb", s.Name), spec: s, health: newHealth(s), dirty: true,
		now: time.Now, apply: Apply, remove: Remove}
	d.probe = func(ctx context.Context, addr string, port int) error { return dialProbe(ctx, d.spec.SNAT, addr, port) }
	d.log.Info("load balancer starting", "table", TableName(s.Name), "vip", s.VIP, "ports", s.Ports,
		"backends", s.Backends, "interval", s.Interval, "timeout", s.Timeout)
	if err := d.step(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(d.spec.Interval)
	defer tick.Stop()
	// SIGHUP: the spec file changed (the service controller signals it), act now rather
	// than at the next tick, so removed backends get no new connections.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return d.stop(ctx)
		case <-tick.C:
		case <-hup:
		}
		interval := d.spec.Interval
		if err := d.step(ctx); err != nil {
			d.log.Error("load balancer not updated; retrying next interval", "err", err)
		}
		if d.spec.Interval != interval {
			tick.Reset(d.spec.Interval)
		}
	}
}

// daemon is Run's state; its I/O is in function fields so tests can drive it.
type daemon struct {
	path      string
	log       *slog.Logger
	spec      Spec
	health    *health
	applied   []string // backends in the installed table
	dirty     bool     // the table must be replaced even if applied looks current
	reloadErr string   // last spec error logged, to log each problem once

	now    func() time.Time
	probe  func(ctx context.Context, addr string, port int) error
	apply  func(ctx context.Context, s Spec, backends []string) error
	remove func(ctx context.Context, name string) error
}

// step is one round: re-read the spec, check every backend, replace the table if needed,
// and write the status when anything changed.
func (d *daemon) step(ctx context.Context) error {
	d.reload()
	changed := d.check(ctx)
	if ctx.Err() != nil {
		return nil // shutting down: failed checks mean nothing
	}
	targets, failOpen := d.health.targets(d.spec.Backends)
	if d.dirty || !slices.Equal(targets, d.applied) {
		if err := d.apply(ctx, d.spec, targets); err != nil {
			return err
		}
		d.applied, d.dirty, changed = targets, false, true
		switch {
		case len(targets) == 0:
			d.log.Warn("no backends: dropping traffic to the VIP")
		case failOpen:
			d.log.Warn("no healthy backend: failing open to all backends", "backends", targets)
		default:
			d.log.Info("forwarding", "backends", targets)
		}
	}
	if changed {
		if err := writeStatus(d.path, status(d.spec, d.health, d.now())); err != nil {
			d.log.Error("status not written", "err", err)
		}
	}
	return nil
}

// reload adopts the spec file's current content; a bad file leaves the last good spec.
func (d *daemon) reload() {
	s, err := LoadSpec(d.path)
	if err == nil && s.Name != d.spec.Name {
		err = errors.New("the name changed from " + d.spec.Name + " to " + s.Name + "; one daemon serves one load balancer")
	}
	if err != nil {
		if err.Error() != d.reloadErr {
			d.log.Warn("keeping the last good spec", "err", err)
			d.reloadErr = err.Error()
		}
		return
	}
	d.reloadErr = ""
	if reflect.DeepEqual(s, d.spec) {
		return
	}
	d.log.Info("spec changed", "vip", s.VIP, "ports", s.Ports, "backends", s.Backends, "interval", s.Interval)
	d.spec, d.dirty = s, true
	d.health.configure(s)
}

// check probes every backend at once, bounded by Timeout, and reports state changes.
func (d *daemon) check(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, d.spec.Timeout)
	defer cancel()
	errs := make([]error, len(d.spec.Backends))
	var wg sync.WaitGroup
	for i, a := range d.spec.Backends {
		wg.Go(func() { errs[i] = d.probe(cctx, a, d.spec.Ports[0]) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false
	}
	now, changed := d.now(), false
	for i, a := range d.spec.Backends {
		tr, ok := d.health.observe(a, errs[i], now)
		if !ok {
			continue
		}
		changed = true
		state, level := "healthy", slog.LevelInfo
		if !tr.healthy {
			state, level = "unhealthy", slog.LevelWarn
		}
		attrs := []any{"backend", a, "state", state}
		if tr.first {
			attrs = append(attrs, "first", true)
		} else {
			attrs = append(attrs, "after", tr.after.Round(time.Millisecond))
		}
		if tr.err != "" {
			attrs = append(attrs, "err", tr.err)
		}
		d.log.Log(ctx, level, "backend health", attrs...)
	}
	return changed
}

// stop removes the table and the status once the caller's context is done.
func (d *daemon) stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	err := errors.Join(d.remove(ctx, d.spec.Name), removeStatus(d.path))
	if err != nil {
		d.log.Error("load balancer stopped; cleanup failed", "err", err)
		return err
	}
	d.log.Info("load balancer stopped; table removed", "table", TableName(d.spec.Name))
	return nil
}

// dialProbe is GCP's TCP health check: the check passes when the connection opens.
func dialProbe(ctx context.Context, source, addr string, port int) error {
	var dl net.Dialer
	if source != "" {
		dl.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	c, err := dl.DialContext(ctx, "tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return c.Close()
}
