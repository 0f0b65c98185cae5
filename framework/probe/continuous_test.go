package probe

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// within reports whether got is within frac of want.
func within(got, want int, frac float64) bool {
	return math.Abs(float64(got-want)) <= frac*float64(want)
}

func checkSorted(t *testing.T, samples []Sample) {
	t.Helper()
	if !slices.IsSortedFunc(samples, func(a, b Sample) int { return a.At.Compare(b.At) }) {
		t.Errorf("samples are not sorted by time")
	}
}

func TestContinuousRate(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	start := time.Now()
	samples := Continuous(context.Background(), 50, time.Second, func(context.Context) error {
		calls.Add(1)
		return nil
	})
	elapsed := time.Since(start)
	if !within(len(samples), 50, 0.2) {
		t.Errorf("got %d samples at 50/s for 1s; want 50 ± 20%%", len(samples))
	}
	if int64(len(samples)) != calls.Load() {
		t.Errorf("got %d samples for %d calls; want one per call", len(samples), calls.Load())
	}
	if elapsed < 900*time.Millisecond || elapsed > 1500*time.Millisecond {
		t.Errorf("Continuous took %v; want about 1s", elapsed)
	}
	checkSorted(t, samples)
	for i, s := range samples {
		if s.Err != "" {
			t.Errorf("sample %d: error %q; want none", i, s.Err)
		}
		if s.At.Before(start) || s.Duration < 0 {
			t.Errorf("sample %d: at %v duration %v; want at or after %v and a non-negative duration", i, s.At, s.Duration, start)
		}
	}
	if len(samples) > 0 && samples[0].At.Sub(start) > 50*time.Millisecond {
		t.Errorf("first request %v after the start; want it at once", samples[0].At.Sub(start))
	}
}

func TestContinuousRecordsErrors(t *testing.T) {
	t.Parallel()
	var calls, failed atomic.Int64
	samples := Continuous(context.Background(), 50, 500*time.Millisecond, func(context.Context) error {
		if calls.Add(1)%3 == 0 {
			failed.Add(1)
			return errors.New("connection reset by peer")
		}
		return nil
	})
	var errs int
	for _, s := range samples {
		switch s.Err {
		case "":
		case "connection reset by peer":
			errs++
		default:
			t.Errorf("sample error %q; want %q", s.Err, "connection reset by peer")
		}
	}
	if errs != int(failed.Load()) || errs == 0 {
		t.Errorf("got %d failed samples; want %d (> 0)", errs, failed.Load())
	}
	checkSorted(t, samples)
}

// A request slower than the period must not hold back the next one: a hanging request
// during a failover would otherwise hide the failures after it.
func TestContinuousSlowCallsOverlap(t *testing.T) {
	t.Parallel()
	const slow = 200 * time.Millisecond
	var inFlight, peak atomic.Int64
	start := time.Now()
	samples := Continuous(context.Background(), 50, time.Second, func(ctx context.Context) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-time.After(slow):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	elapsed := time.Since(start)
	if !within(len(samples), 50, 0.2) {
		t.Errorf("got %d samples at 50/s for 1s with %v calls; want 50 ± 20%%", len(samples), slow)
	}
	// 200ms calls every 20ms: about 10 in flight.
	if p := peak.Load(); p < 5 {
		t.Errorf("peak concurrent calls %d; want about 10", p)
	}
	for i, s := range samples {
		if s.Err != "" {
			t.Errorf("sample %d: error %q; want none (calls outlive the probe's duration)", i, s.Err)
		}
		if s.Duration < slow {
			t.Errorf("sample %d: duration %v; want at least %v", i, s.Duration, slow)
		}
	}
	// Continuous waits for the calls in flight.
	if elapsed < time.Second+slow-50*time.Millisecond {
		t.Errorf("Continuous returned after %v; want after the last call ended (about %v)", elapsed, time.Second+slow)
	}
	if n := inFlight.Load(); n != 0 {
		t.Errorf("%d calls still in flight after Continuous returned; want 0", n)
	}
	checkSorted(t, samples)
}

func TestContinuousStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	samples := Continuous(ctx, 50, 10*time.Second, func(context.Context) error { return nil })
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Continuous returned after %v; want about 200ms when its context ends", elapsed)
	}
	if !within(len(samples), 10, 0.5) {
		t.Errorf("got %d samples in 200ms at 50/s; want about 10", len(samples))
	}
}

func TestSortSamples(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []Sample {
		var out []Sample
		for _, m := range ms {
			out = append(out, Sample{At: t0.Add(time.Duration(m) * time.Millisecond), Duration: time.Duration(m)})
		}
		return out
	}
	for _, tt := range []struct{ in, want []Sample }{
		{at(3, 1, 2), at(1, 2, 3)},
		{at(5, 4, 3, 2, 1), at(1, 2, 3, 4, 5)},
		{at(1, 2, 3), at(1, 2, 3)},
		{nil, nil},
	} {
		got := slices.Clone(tt.in)
		sortSamples(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("sortSamples(%v) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	event := t0.Add(time.Second)
	// series is 20 samples 100ms apart from t0 (the event falls on the 11th); failing lists
	// the indexes that failed.
	series := func(failing ...int) []Sample {
		out := make([]Sample, 20)
		for i := range out {
			out[i] = Sample{At: t0.Add(time.Duration(i) * 100 * time.Millisecond), Duration: 5 * time.Millisecond}
			if slices.Contains(failing, i) {
				out[i].Err = "connection refused"
			}
		}
		return out
	}
	const rate = 19 / 1.9 // 20 samples over 1.9s
	tests := []struct {
		name    string
		samples []Sample
		want    LossWindow
	}{
		{"no failures", series(),
			LossWindow{Requests: 20, RecoveredAfter: true, Rate: rate}},
		{"failures only before the event", series(3, 4),
			LossWindow{Requests: 20, Failures: 2, LastFailure: 0, RecoveredAfter: true, Rate: rate}},
		{"failures after the event, then recovery", series(11, 12, 13),
			LossWindow{Requests: 20, Failures: 3, LastFailure: 300 * time.Millisecond, RecoveredAfter: true, Rate: rate}},
		{"failures on both sides of the event", series(8, 9, 10, 11, 12),
			LossWindow{Requests: 20, Failures: 5, LastFailure: 200 * time.Millisecond, RecoveredAfter: true, Rate: rate}},
		{"failures until the end", series(15, 16, 17, 18, 19),
			LossWindow{Requests: 20, Failures: 5, LastFailure: 900 * time.Millisecond, RecoveredAfter: false, Rate: rate}},
		{"only the last failed", series(19),
			LossWindow{Requests: 20, Failures: 1, LastFailure: 900 * time.Millisecond, RecoveredAfter: false, Rate: rate}},
		{"one sample", series()[:1],
			LossWindow{Requests: 1, RecoveredAfter: true, Rate: 0}},
	}
	approx := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Window(tt.samples, event), approx); diff != "" {
				t.Errorf("Window (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWindowEmpty(t *testing.T) {
	t.Parallel()
	w := Window(nil, time.Now())
	if w.Requests != 0 || w.Failures != 0 || w.LastFailure != 0 || w.Rate != 0 {
		t.Errorf("Window(nil) = %+v; want zero counts, delay and rate", w)
	}
}
