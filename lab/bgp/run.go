package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reachgate/framework/cloud"
	"reflect"
	"slices"
	"syscall"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

const (
	statusInterval = time.Second
	// callTimeout bounds every call into GoBGP, so a wedged server cannot hang the daemon.
	callTimeout = 5 * time.Second
	stopTimeout = 5 * time.Second
)

// Run is the BGP speaker daemon of one namespace (start it inside the namespace: ip netns
// exec or nsenter). It starts GoBGP, adds the neighbors, originates the advertised
// prefixes, installs learned prefixes as ECMP kernel routes over every equal best path
// (re-computed on every best-path or session event, and every second), writes a
// GetRouterStatus-shaped status, applies spec changes on SIGHUP without resetting
// unchanged sessions, and when ctx is done closes the sessions, removes its routes and
// its status file.
func Run(ctx context.Context, specPath string, log *slog.Logger) error {
	s, err := LoadSpec(specPath)
	if err != nil {
		return err
	}
	d := &daemon{path: specPath, spec: s, log: log.With("router", s.Name), kernel: newKernel(s.Kernel)}
	// Routes of our protocol left by a killed speaker would otherwise blackhole traffic.
	if err := d.kernel.flush(); err != nil {
		return fmt.Errorf("bgp spec %s: kernel: %w", specPath, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if d.bs, err = startSpeaker(ctx, s, d.log); err != nil {
		return fmt.Errorf("bgp spec %s: %w", specPath, err)
	}
	for _, n := range s.Neighbors {
		if err := addNeighbor(ctx, d.bs, n); err != nil {
			return errors.Join(fmt.Errorf("bgp spec %s: %w", specPath, err), d.stop(ctx))
		}
	}
	for _, a := range s.Advertise {
		if err := announce(ctx, d.bs, a); err != nil {
			return errors.Join(fmt.Errorf("bgp spec %s: %w", specPath, err), d.stop(ctx))
		}
	}
	kick := make(chan struct{}, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = d.bs.WatchEvent(wctx, &api.WatchEventRequest{
		Peer:  &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true}}},
	}, func(*api.WatchEventResponse) {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return errors.Join(fmt.Errorf("watch best paths: %w", err), d.stop(ctx))
	}
	d.log.Info("bgp speaker started", "asn", s.ASN, "routerId", s.RouterID, "neighbors", len(s.Neighbors),
		"advertise", len(s.Advertise), "table", s.Kernel.Table, "protocol", s.Kernel.Protocol)
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		d.step(ctx)
		select {
		case <-ctx.Done():
			return d.stop(ctx)
		case <-hup:
			d.reload(ctx)
		case <-kick:
		case <-tick.C:
		}
	}
}

type daemon struct {
	path   string
	spec   Spec
	log    *slog.Logger
	bs     *server.BgpServer
	kernel *kernel
	up     map[string]string // last logged state per neighbor name
	errs   string            // last logged route error, to log each problem once
}

// step re-computes the best routes, programs the kernel and writes the status.
func (d *daemon) step(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var dests []*api.Destination
	err := d.bs.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast},
		func(dst *api.Destination) { dests = append(dests, dst) })
	var routes []cloud.BestRoute
	if err == nil {
		routes, err = bestRoutes(dests)
	}
	if err != nil {
		// Without the RIB neither the kernel nor the status can be brought up to date.
		d.logOnce(fmt.Errorf("read the BGP table: %w", err))
		return
	}
	changed, err := d.kernel.sync(routes)
	for _, dst := range changed {
		r, _ := cloud.RouterStatus{BestRoutes: routes}.Route(dst)
		d.log.Info("kernel route", "dest", dst, "nextHops", r.NextHops)
	}
	d.logOnce(err) // the status still shows the selection; failed prefixes are retried
	now := time.Now()
	peers, err := peerStatuses(ctx, d.bs, d.spec, now)
	if err != nil {
		d.log.Error("status not written", "err", err)
		return
	}
	if d.up == nil {
		d.up = map[string]string{}
	}
	for _, p := range peers {
		if d.up[p.Name] != p.State {
			d.log.Info("bgp session", "peer", p.Name, "address", p.PeerIPAddress, "state", p.State, "status", p.Status)
			d.up[p.Name] = p.State
		}
	}
	if routes == nil {
		routes = []cloud.BestRoute{}
	}
	st := cloud.RouterStatus{Name: d.spec.Name, ASN: d.spec.ASN, RouterID: d.spec.RouterID, BGPPeerStatus: peers,
		BestRoutes: routes, Updated: now}
	if err := writeStatus(d.path, st); err != nil {
		d.log.Error("status not written", "err", err)
	}
}

// logOnce logs a routing error once until it changes or clears.
func (d *daemon) logOnce(err error) {
	if err == nil {
		d.errs = ""
		return
	}
	if err.Error() != d.errs {
		d.log.Error("routes not programmed; retrying", "err", err)
	}
	d.errs = err.Error()
}

// reload applies the spec file's changes: neighbors added, removed or changed (a changed
// neighbor's session is reset; a renamed one is not), prefixes announced or withdrawn
// (sessions stay up). A bad file, or a change that needs a restart, keeps the running spec.
func (d *daemon) reload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s, err := LoadSpec(d.path)
	if err == nil {
		err = restartNeeded(d.spec, s)
	}
	if err != nil {
		d.log.Warn("reload refused; keeping the running spec", "err", fmt.Errorf("bgp spec %s: %w", d.path, err))
		return
	}
	var errs []error
	oldN, newN := neighborsByAddr(d.spec.Neighbors), neighborsByAddr(s.Neighbors)
	for addr, o := range oldN {
		if n, ok := newN[addr]; !ok || !sameSession(o, n) {
			errs = append(errs, deleteNeighbor(ctx, d.bs, o))
			d.log.Info("neighbor removed", "peer", o.Name, "address", addr)
		}
	}
	for _, n := range s.Neighbors {
		if o, ok := oldN[n.Address]; !ok || !sameSession(o, n) {
			errs = append(errs, addNeighbor(ctx, d.bs, n))
			d.log.Info("neighbor added", "peer", n.Name, "address", n.Address, "peerAsn", n.PeerASN, "passive", n.Passive)
		}
	}
	oldA := map[string]Advertisement{}
	for _, a := range d.spec.Advertise {
		oldA[a.Prefix] = a
	}
	newA := map[string]bool{}
	for _, a := range s.Advertise {
		newA[a.Prefix] = true
		if o, ok := oldA[a.Prefix]; !ok || o != a {
			errs = append(errs, announce(ctx, d.bs, a))
			d.log.Info("announced", "prefix", a.Prefix, "med", a.MED)
		}
	}
	for _, a := range d.spec.Advertise {
		if !newA[a.Prefix] {
			errs = append(errs, withdraw(ctx, d.bs, a))
			d.log.Info("withdrawn", "prefix", a.Prefix)
		}
	}
	d.spec = s
	if err := errors.Join(errs...); err != nil {
		d.log.Error("spec reloaded with errors; fix the spec and send SIGHUP again", "err", err)
		return
	}
	d.log.Info("spec reloaded", "neighbors", len(s.Neighbors), "advertise", len(s.Advertise))
}

// restartNeeded names the global settings a running speaker cannot change.
func restartNeeded(old, s Spec) error {
	switch {
	case old.Name != s.Name:
		return fmt.Errorf("name changed from %s to %s; one daemon serves one router (restart it)", old.Name, s.Name)
	case old.ASN != s.ASN || old.RouterID != s.RouterID:
		return errors.New("asn or routerId changed; restart the speaker to change them")
	case old.ListenPort != s.ListenPort || !slices.Equal(old.ListenAddresses, s.ListenAddresses):
		return errors.New("listenPort or listenAddresses changed; restart the speaker to change them")
	case old.Kernel != s.Kernel:
		return errors.New("kernel table or protocol changed; restart the speaker to change them")
	}
	return nil
}

func neighborsByAddr(ns []Neighbor) map[string]Neighbor {
	m := map[string]Neighbor{}
	for _, n := range ns {
		m[n.Address] = n
	}
	return m
}

// sameSession reports whether a and b configure the same session (the name is only a label).
func sameSession(a, b Neighbor) bool {
	a.Name, b.Name = "", ""
	return reflect.DeepEqual(a, b)
}

// stop closes the sessions, removes the speaker's routes and its status file.
func (d *daemon) stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	stopSpeaker(ctx, d.bs)
	err := errors.Join(d.kernel.flush(), removeStatus(d.path))
	if err != nil {
		d.log.Error("bgp speaker stopped; cleanup failed", "err", err)
		return err
	}
	d.log.Info("bgp speaker stopped; routes removed")
	return nil
}
