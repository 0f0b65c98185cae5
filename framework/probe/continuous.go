package probe

import (
	"context"
	"sync"
	"time"
)

// Sample is one request of a continuous probe.
type Sample struct {
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration"`
	Err      string        `json:"error,omitempty"`
}

// Continuous calls fn at a fixed rate until ctx ends or d passes; calls overlap when fn is
// slower than the period, so a hanging request never lowers the rate.
func Continuous(ctx context.Context, rate float64, d time.Duration, fn func(context.Context) error) []Sample {
	period := time.Duration(float64(time.Second) / rate)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu  sync.Mutex
		out []Sample
		wg  sync.WaitGroup
	)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		wg.Add(1)
		go func(at time.Time) {
			defer wg.Done()
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer rcancel()
			err := fn(rctx)
			s := Sample{At: at, Duration: time.Since(at)}
			if err != nil {
				s.Err = err.Error()
			}
			mu.Lock()
			out = append(out, s)
			mu.Unlock()
		}(time.Now())
		select {
		case <-ctx.Done():
			wg.Wait()
			sortSamples(out)
			return out
		case <-t.C:
		}
	}
}

func sortSamples(s []Sample) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].At.Before(s[j-1].At); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// LossWindow summarizes samples around an event: failures after it, the time from the
// event to the start of the last failed request, and whether every request after that
// succeeded.
type LossWindow struct {
	Requests       int           `json:"requests"`
	Failures       int           `json:"failures"`
	LastFailure    time.Duration `json:"lastFailureAfterEvent"` // 0 when none failed after the event
	RecoveredAfter bool          `json:"recovered"`
	Rate           float64       `json:"ratePerSecond"`
}

// Window computes the LossWindow of samples relative to event.
func Window(samples []Sample, event time.Time) LossWindow {
	w := LossWindow{Requests: len(samples), RecoveredAfter: true}
	if len(samples) > 1 {
		span := samples[len(samples)-1].At.Sub(samples[0].At)
		if span > 0 {
			w.Rate = float64(len(samples)-1) / span.Seconds()
		}
	}
	lastFail := -1
	for i, s := range samples {
		if s.Err != "" {
			w.Failures++
			lastFail = i
		}
	}
	if lastFail >= 0 && samples[lastFail].At.After(event) {
		w.LastFailure = samples[lastFail].At.Sub(event)
	}
	w.RecoveredAfter = len(samples) > 0 && lastFail < len(samples)-1
	return w
}
