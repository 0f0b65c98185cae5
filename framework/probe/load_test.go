package probe

import (
	"context"
	"encoding/pem"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"reachgate/framework/pki"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// netDialer is a Dialer over net.Dialer that counts connections.
type netDialer struct {
	d     net.Dialer
	dials atomic.Int64
}

func (n *netDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n.dials.Add(1)
	return n.d.DialContext(ctx, network, addr)
}

// loadServer answers 200 to its first okFirst requests and then status; it checks the token.
func loadServer(t *testing.T, okFirst int64, status int) (*httptest.Server, HTTPSRequest, *atomic.Int64) {
	t.Helper()
	var seen atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if seen.Add(1) > okFirst {
			w.WriteHeader(status)
		}
		_, _ = w.Write([]byte(`{"kind":"Status"}`))
	}))
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv, HTTPSRequest{URL: srv.URL + "/version", CAPEM: ca, Token: "s3cret"}, &seen
}

func TestLoad(t *testing.T) {
	t.Parallel()
	const n, concurrency = 200, 4
	_, req, seen := loadServer(t, 1<<62, http.StatusOK)
	d := &netDialer{}
	res, err := Load(context.Background(), d, req, n, concurrency)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if res.Requests != n || res.Errors != 0 {
		t.Errorf("requests %d errors %d; want %d and 0", res.Requests, res.Errors, n)
	}
	if got := seen.Load(); got != n+concurrency {
		t.Errorf("server saw %d requests; want %d (warm-up %d + %d)", got, n+concurrency, concurrency, n)
	}
	if !(0 < res.P50 && res.P50 <= res.P95 && res.P95 <= res.P99 && res.P99 <= res.Max) {
		t.Errorf("latencies p50 %v p95 %v p99 %v max %v; want 0 < p50 <= p95 <= p99 <= max", res.P50, res.P95, res.P99, res.Max)
	}
	if res.PerSec <= 0 {
		t.Errorf("perSecond = %v; want > 0", res.PerSec)
	}
	// Kept-alive connections, not one per request. (The transport may dial a few more than
	// there are workers when a dial races an idle connection, so the bound is loose.)
	if got := d.dials.Load(); got < 1 || got > n/10 {
		t.Errorf("dialed %d connections for %d requests; want 1..%d", got, n, n/10)
	}
}

func TestLoadCountsErrors(t *testing.T) {
	t.Parallel()
	const n, concurrency = 50, 2
	// The warm-up requests succeed; every measured one gets a 500.
	_, req, _ := loadServer(t, concurrency, http.StatusInternalServerError)
	res, err := Load(context.Background(), &netDialer{}, req, n, concurrency)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := LoadResult{Requests: n, Errors: n, PerSec: res.PerSec}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Load against a failing server (-want +got):\n%s", diff)
	}
	if res.PerSec <= 0 {
		t.Errorf("perSecond = %v; want > 0", res.PerSec)
	}
}

func TestLoadFailsWhenWarmUpFails(t *testing.T) {
	t.Parallel()
	_, req, _ := loadServer(t, 0, http.StatusInternalServerError)
	_, err := Load(context.Background(), &netDialer{}, req, 10, 2)
	if err == nil || !strings.Contains(err.Error(), "warm-up") || !strings.Contains(err.Error(), "status 500") {
		t.Errorf("Load against a server answering 500: error %v; want a warm-up error naming status 500", err)
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	_, req, _ := loadServer(t, 1<<62, http.StatusOK)
	// httptest servers share one certificate: an unrelated CA stands for an untrusted one.
	other, err := pki.NewCA("unrelated CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		modify  func(*HTTPSRequest)
		wantErr string
	}{
		{"no CA", func(r *HTTPSRequest) { r.CAPEM = nil }, "no PEM certificate"},
		{"CA not PEM", func(r *HTTPSRequest) { r.CAPEM = []byte("not a certificate") }, "no PEM certificate"},
		{"untrusted server", func(r *HTTPSRequest) {
			r.CAPEM = other.CertPEM
		}, "certificate signed by unknown authority"},
		{"wrong server name", func(r *HTTPSRequest) { r.ServerName = "impostor.example" }, "impostor.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := req
			tt.modify(&r)
			if _, err := Load(context.Background(), &netDialer{}, r, 5, 1); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load: error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	oneToHundred := make([]int, 100)
	for i := range oneToHundred {
		oneToHundred[i] = i + 1
	}
	shuffled := ms(oneToHundred...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	tests := []struct {
		name string
		in   []time.Duration
		want LoadResult
	}{
		// Nearest rank: percentile q is the ⌈q·n⌉-th smallest sample.
		{"1..100ms shuffled", shuffled,
			LoadResult{Requests: 100, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
		{"one sample", ms(7),
			LoadResult{Requests: 1, P50: 7 * time.Millisecond, P95: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"all equal", ms(3, 3, 3, 3),
			LoadResult{Requests: 4, P50: 3 * time.Millisecond, P95: 3 * time.Millisecond, P99: 3 * time.Millisecond, Max: 3 * time.Millisecond}},
		{"empty", nil, LoadResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.in)
			if diff := cmp.Diff(tt.want, Summarize(in)); diff != "" {
				t.Errorf("Summarize (-want +got):\n%s", diff)
			}
			if !slices.Equal(in, tt.in) {
				t.Error("Summarize reordered its input")
			}
		})
	}
}
