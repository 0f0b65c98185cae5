package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// LoadResult summarizes a batch of requests.
type LoadResult struct {
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	P50      time.Duration `json:"p50"`
	P95      time.Duration `json:"p95"`
	P99      time.Duration `json:"p99"`
	Max      time.Duration `json:"max"`
	PerSec   float64       `json:"perSecond"`
}

// Load sends n GETs of r.URL from d over `concurrency` kept-alive connections and returns
// the latency distribution of the successful ones (status 200).
func Load(ctx context.Context, d Dialer, r HTTPSRequest, n, concurrency int) (LoadResult, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(r.CAPEM) {
		return LoadResult{}, errors.New("CA bundle holds no PEM certificate")
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: r.ServerName, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: concurrency,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
		if err != nil {
			return 0, err
		}
		if r.Token != "" {
			req.Header.Set("Authorization", "Bearer "+r.Token)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// Warm every connection at once (so each worker has its own) so handshakes are not in
	// the distribution.
	warm := make(chan error, concurrency)
	for range concurrency {
		go func() { _, err := get(); warm <- err }()
	}
	for range concurrency {
		if err := <-warm; err != nil {
			return LoadResult{}, fmt.Errorf("warm-up GET %s: %w", r.URL, err)
		}
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs int
		wg   sync.WaitGroup
		next = make(chan struct{}, n)
	)
	for range n {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				lat, err := get()
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lats = append(lats, lat)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := Summarize(lats)
	res.Requests, res.Errors, res.PerSec = n, errs, float64(n)/elapsed.Seconds()
	return res, nil
}

// Summarize computes the percentiles of a latency sample.
func Summarize(lats []time.Duration) LoadResult {
	if len(lats) == 0 {
		return LoadResult{}
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	// Nearest rank: the smallest value with at least q of the sample at or below it.
	at := func(q float64) time.Duration {
		rank := int(math.Ceil(q * float64(len(s))))
		return s[max(0, min(len(s), rank)-1)]
	}
	return LoadResult{Requests: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: s[len(s)-1]}
}
