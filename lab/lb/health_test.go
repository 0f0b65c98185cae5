package lb

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealthThresholds(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name       string
		fall, rise int
		checks     []error
		want       []bool // state after each check
	}{
		{"first check decides", 2, 2, []error{down}, []bool{false}},
		{"threshold 1 flips at once", 1, 1, []error{nil, down, nil}, []bool{true, false, true}},
		{"two failures to go down", 2, 1, []error{nil, down, nil, down, down}, []bool{true, true, true, true, false}},
		{"three successes to come back", 1, 3, []error{down, nil, nil, down, nil, nil, nil}, []bool{false, false, false, false, false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHealth(Spec{Backends: []string{"a"}, UnhealthyThreshold: tc.fall, HealthyThreshold: tc.rise})
			var got []bool
			now := time.Unix(0, 0)
			for _, err := range tc.checks {
				now = now.Add(time.Second)
				h.observe("a", err, now)
				got = append(got, h.isHealthy("a"))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHealthTransition(t *testing.T) {
	t.Parallel()
	h := newHealth(Spec{Backends: []string{"a"}, UnhealthyThreshold: 1, HealthyThreshold: 1})
	t0 := time.Unix(100, 0)
	if tr, ok := h.observe("a", nil, t0); !ok || !tr.first || !tr.healthy {
		t.Fatalf("first observe = %+v, %v; want a first, healthy transition", tr, ok)
	}
	if _, ok := h.observe("a", nil, t0.Add(time.Second)); ok {
		t.Fatal("unchanged state reported as a transition")
	}
	tr, ok := h.observe("a", errors.New("refused"), t0.Add(3*time.Second))
	want := transition{addr: "a", healthy: false, after: 3 * time.Second, err: "refused"}
	if !ok || tr != want {
		t.Fatalf("observe = %+v, %v; want %+v, true", tr, ok, want)
	}
}

func TestTargetsFailOpen(t *testing.T) {
	t.Parallel()
	all := []string{"a", "b", "c"}
	h := newHealth(Spec{Backends: all, UnhealthyThreshold: 1, HealthyThreshold: 1})
	now := time.Unix(0, 0)
	h.observe("a", errors.New("x"), now)
	h.observe("b", nil, now)
	h.observe("c", nil, now)
	if got, open := h.targets(all); !cmp.Equal(got, []string{"b", "c"}) || open {
		t.Errorf("targets = %v, failOpen %v; want [b c], false", got, open)
	}
	h.observe("b", errors.New("x"), now)
	h.observe("c", errors.New("x"), now)
	if got, open := h.targets(all); !cmp.Equal(got, all) || !open {
		t.Errorf("targets = %v, failOpen %v; want all, true", got, open)
	}
	if got, open := h.targets(nil); len(got) != 0 || open {
		t.Errorf("targets(no backends) = %v, %v; want none, false", got, open)
	}
	h.configure(Spec{Backends: []string{"c"}})
	if _, ok := h.backends["a"]; ok {
		t.Error("configure kept a backend the spec no longer lists")
	}
}
