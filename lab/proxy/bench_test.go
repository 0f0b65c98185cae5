package proxy

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"
)

// benchGet measures GET /version at base with client, reporting the p50
// and p99 latency besides ns/op.
func benchGet(b *testing.B, client *http.Client, base string) {
	req, err := http.NewRequest(http.MethodGet, base+"/version", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", token)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("got %d; want 200", res.StatusCode)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		b.ReportMetric(float64(lat[n/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[n*99/100].Nanoseconds()), "p99-ns")
	}
}

func benchClient(b *testing.B, tc *tls.Config) *http.Client {
	tr := &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 4}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// BenchmarkDirect is the baseline: the client at the upstream itself.
func BenchmarkDirect(b *testing.B) {
	up, _ := newUpstream(b, pki.upstream)
	benchGet(b, benchClient(b, &tls.Config{RootCAs: pki.clusterCA, ServerName: "kubernetes.default"}), "https://"+upstreamAddr(up))
}

func BenchmarkL7(b *testing.B) {
	up, _ := newUpstream(b, pki.upstream)
	cfg := l7Config(upstreamAddr(up))
	cfg.AccessLog = false
	addr, _ := startProxy(b, "", cfg, slog.New(slog.DiscardHandler))
	benchGet(b, benchClient(b, &tls.Config{RootCAs: pki.proxyCA}), "https://"+addr)
}

func BenchmarkL4(b *testing.B) {
	up, _ := newUpstream(b, pki.upstream)
	addr, _ := startProxy(b, "", l4Config(upstreamAddr(up)), slog.New(slog.DiscardHandler))
	benchGet(b, benchClient(b, &tls.Config{RootCAs: pki.clusterCA, ServerName: "kubernetes.default"}), "https://"+addr)
}

// BenchmarkL7Parallel is BenchmarkL7 with 8 clients at once, as in
// `reachgate bench ilb-proxy` (which runs the proxy with GOMAXPROCS=1).
func BenchmarkL7Parallel(b *testing.B) {
	up, _ := newUpstream(b, pki.upstream)
	cfg := l7Config(upstreamAddr(up))
	cfg.AccessLog = false
	addr, _ := startProxy(b, "", cfg, slog.New(slog.DiscardHandler))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.proxyCA}, MaxIdleConnsPerHost: 8}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(8 / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/version", nil)
			req.Header.Set("Authorization", token)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
