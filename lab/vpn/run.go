package vpn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"
)

// statusInterval is how often the daemon samples the devices and writes the status.
const statusInterval = time.Second

// Run is the VPN gateway daemon of one namespace (start it inside the namespace: ip netns
// exec or nsenter). It opens every tunnel of the spec, writes the status every second,
// re-reads the spec on SIGHUP (tunnels added, removed, or changed are opened, closed, or
// re-opened; unchanged ones keep running), and when ctx is done removes its interfaces
// and its status file.
func Run(ctx context.Context, specPath string, log *slog.Logger) error {
	s, err := LoadSpec(specPath)
	if err != nil {
		return err
	}
	d := &daemon{path: specPath, log: log.With("gateway", s.Name), spec: s, tunnels: map[string]*tunnel{}}
	// Register before opening so a SIGHUP sent right after start is not lost (or fatal).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for _, t := range s.Tunnels {
		tn, err := openTunnel(t, d.log)
		if err != nil {
			d.closeAll()
			return fmt.Errorf("vpn spec %s: %w", specPath, err)
		}
		d.tunnels[t.Name] = tn
		d.log.Info("tunnel open", "tunnel", t.Name, "interface", t.Interface, "address", t.Address,
			"listen", t.Listen, "peer", t.PeerEndpoint)
	}
	d.step(time.Now())
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return d.stop()
		case <-hup:
			d.reload()
		case <-tick.C:
		}
		d.step(time.Now())
	}
}

type daemon struct {
	path    string
	log     *slog.Logger
	spec    Spec
	tunnels map[string]*tunnel // by tunnel name
	states  map[string]string  // last logged status per tunnel
}

// step samples every tunnel, logs status changes and writes the status file.
func (d *daemon) step(now time.Time) {
	st := Status{Name: d.spec.Name, Tunnels: []TunnelStatus{}, Updated: now}
	if d.states == nil {
		d.states = map[string]string{}
	}
	for _, t := range d.spec.Tunnels {
		tn := d.tunnels[t.Name]
		tn.sample(now)
		ts := tunnelStatus(tn, now)
		if d.states[t.Name] != ts.Status {
			level := slog.LevelInfo
			if ts.Status != StatusEstablished && d.states[t.Name] == StatusEstablished || ts.Status == StatusFailed {
				level = slog.LevelWarn
			}
			d.log.Log(context.Background(), level, "tunnel status", "tunnel", t.Name, "status", ts.Status, "detail", ts.DetailedStatus)
			d.states[t.Name] = ts.Status
		}
		st.Tunnels = append(st.Tunnels, ts)
	}
	if err := writeStatus(d.path, st); err != nil {
		d.log.Error("status not written", "err", err)
	}
}

// reload adopts the spec file's current content; a bad file keeps the running tunnels.
func (d *daemon) reload() {
	s, err := LoadSpec(d.path)
	if err == nil && s.Name != d.spec.Name {
		err = fmt.Errorf("vpn spec %s: name changed from %s to %s; one daemon serves one gateway (restart it to rename)", d.path, d.spec.Name, s.Name)
	}
	if err != nil {
		d.log.Warn("reload refused; keeping the running tunnels", "err", err)
		return
	}
	want := map[string]Tunnel{}
	for _, t := range s.Tunnels {
		want[t.Name] = t
	}
	// Close removed and changed tunnels first, so a re-used interface name or address is free.
	for name, tn := range d.tunnels {
		if t, ok := want[name]; !ok || !reflect.DeepEqual(t, tn.spec) || tn.dev == nil {
			tn.close()
			delete(d.tunnels, name)
			delete(d.states, name)
			if !ok {
				d.log.Info("tunnel removed", "tunnel", name)
			}
		}
	}
	for _, t := range s.Tunnels {
		if _, ok := d.tunnels[t.Name]; ok {
			continue
		}
		tn, err := openTunnel(t, d.log)
		if err != nil {
			d.log.Error("tunnel not opened; fix the spec and send SIGHUP again", "err", fmt.Errorf("vpn spec %s: %w", d.path, err))
			tn = &tunnel{spec: t, err: err.Error()}
		} else {
			d.log.Info("tunnel open", "tunnel", t.Name, "interface", t.Interface, "address", t.Address,
				"listen", t.Listen, "peer", t.PeerEndpoint)
		}
		d.tunnels[t.Name] = tn
	}
	d.spec = s
	d.log.Info("spec reloaded", "tunnels", len(s.Tunnels))
}

func (d *daemon) closeAll() {
	for name, tn := range d.tunnels {
		tn.close()
		delete(d.tunnels, name)
	}
}

// stop removes every interface and the status file.
func (d *daemon) stop() error {
	d.closeAll()
	err := removeStatus(d.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Error("vpn gateway stopped; status not removed", "err", err)
		return err
	}
	d.log.Info("vpn gateway stopped; interfaces removed")
	return nil
}
