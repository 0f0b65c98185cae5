package lb

import (
	"slices"
	"time"
)

// health holds each backend's state. A backend's first check sets its state directly (so
// the LB is usable at once); after that a state flips only after threshold consecutive
// checks that disagree with it, as GCP's healthy/unhealthy thresholds do.
type health struct {
	rise, fall int // HealthyThreshold, UnhealthyThreshold
	backends   map[string]*backendState
}

type backendState struct {
	healthy bool
	streak  int // consecutive checks disagreeing with healthy
	since   time.Time
	lastErr string
}

// transition is a change of a backend's state, for the log.
type transition struct {
	addr    string
	healthy bool
	first   bool          // the backend's first check
	after   time.Duration // time in the previous state
	err     string        // the failing check's error, when it became unhealthy
}

func newHealth(s Spec) *health {
	h := &health{backends: map[string]*backendState{}}
	h.configure(s)
	return h
}

// configure adopts a spec's thresholds and backends, keeping the state of backends it
// still lists and forgetting the others.
func (h *health) configure(s Spec) {
	h.rise, h.fall = s.HealthyThreshold, s.UnhealthyThreshold
	for addr := range h.backends {
		if !slices.Contains(s.Backends, addr) {
			delete(h.backends, addr)
		}
	}
}

// observe records one check result (err nil means it passed) and reports a transition.
func (h *health) observe(addr string, err error, now time.Time) (transition, bool) {
	ok := err == nil
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	b := h.backends[addr]
	if b == nil {
		h.backends[addr] = &backendState{healthy: ok, since: now, lastErr: errText}
		return transition{addr: addr, healthy: ok, first: true, err: errText}, true
	}
	b.lastErr = errText
	if ok == b.healthy {
		b.streak = 0
		return transition{}, false
	}
	b.streak++
	need := h.fall
	if !b.healthy {
		need = h.rise
	}
	if b.streak < need {
		return transition{}, false
	}
	tr := transition{addr: addr, healthy: ok, after: now.Sub(b.since), err: errText}
	b.healthy, b.streak, b.since = ok, 0, now
	return tr, true
}

// isHealthy reports a backend's state; a backend not yet checked is not healthy.
func (h *health) isHealthy(addr string) bool {
	b := h.backends[addr]
	return b != nil && b.healthy
}

// targets returns the backends to send new connections to, in spec order: the healthy
// ones, or all of them when none is healthy (GCP fails open).
func (h *health) targets(all []string) (out []string, failOpen bool) {
	for _, a := range all {
		if h.isHealthy(a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 && len(all) > 0 {
		return slices.Clone(all), true
	}
	return out, false
}
