package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Bucket counts samples at or below LeMs and above the previous bucket's bound (a
// histogram bucket; the last one has LeMs 0, meaning +Inf).
type Bucket struct {
	LeMs  float64 `json:"leMs"`
	Count int     `json:"count"`
}

// BucketBounds are the histogram's upper bounds in ms: from sub-millisecond lab links to
// intercontinental round trips.
var BucketBounds = []float64{0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}

// Histogram sorts latencies into BucketBounds plus a +Inf bucket.
func Histogram(lats []time.Duration) []Bucket {
	out := make([]Bucket, len(BucketBounds)+1)
	for i, b := range BucketBounds {
		out[i].LeMs = b
	}
	for _, l := range lats {
		ms := float64(ToMs(l))
		i := 0
		for i < len(BucketBounds) && ms > BucketBounds[i] {
			i++
		}
		out[i].Count++
	}
	return out
}

// PathLatency is the latency distribution of sequential GETs of one path.
type PathLatency struct {
	Path       string   `json:"path"`
	Samples    int      `json:"samples"`
	Errors     int      `json:"errors"`
	FirstError string   `json:"firstError,omitempty"`
	P50        Ms       `json:"p50Ms"`
	P95        Ms       `json:"p95Ms"`
	P99        Ms       `json:"p99Ms"`
	Max        Ms       `json:"maxMs"`
	Mean       Ms       `json:"meanMs"`
	Elapsed    Ms       `json:"elapsedMs"` // all samples, end to end
	Histogram  []Bucket `json:"histogram"`
}

// DefaultPaths are the paths the latency check samples: an unauthenticated cheap one and
// an authorized list.
var DefaultPaths = []string{"/version", "/api/v1/nodes"}

// Latency sends n sequential GETs of base.URL's origin + path from d over one kept-alive
// connection (after one warm-up request, so the handshake is not in the sample) and
// summarizes the successful ones (status 200) with Summarize. Non-200 answers and
// transport errors count as errors.
func Latency(ctx context.Context, d Dialer, base HTTPSRequest, path string, n int) (PathLatency, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(base.CAPEM) {
		return PathLatency{}, errors.New("CA bundle holds no PEM certificate")
	}
	timeout := base.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: base.ServerName, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 1,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}
	url := strings.TrimRight(origin(base.URL), "/") + path
	get := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if base.Token != "" {
			req.Header.Set("Authorization", "Bearer "+base.Token)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		return time.Since(start), nil
	}
	if _, err := get(); err != nil {
		return PathLatency{Path: path}, fmt.Errorf("warm-up GET %s: %w", url, err)
	}
	res := PathLatency{Path: path, Samples: n}
	lats := make([]time.Duration, 0, n)
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		lat, err := get()
		if err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			continue
		}
		lats = append(lats, lat)
	}
	res.Elapsed = ToMs(time.Since(start))
	s := Summarize(lats)
	res.P50, res.P95, res.P99, res.Max = ToMs(s.P50), ToMs(s.P95), ToMs(s.P99), ToMs(s.Max)
	if len(lats) > 0 {
		var sum time.Duration
		for _, l := range lats {
			sum += l
		}
		res.Mean = ToMs(sum / time.Duration(len(lats)))
	}
	res.Histogram = Histogram(lats)
	return res, nil
}

// origin is scheme://host[:port] of a URL.
func origin(u string) string {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		return u
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return "https://" + rest
}
