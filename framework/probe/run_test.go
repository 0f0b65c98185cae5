package probe

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"reachgate/fixtures"
)

// apiServer is a small HTTPS server shaped like the API server's read paths: /version for
// everyone, /api/v1/nodes for the bearer token only.
func apiServer(t *testing.T, cert tls.Certificate, minV uint16) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			switch r.URL.Path {
			case "/version":
				_, _ = io.WriteString(w, `{"gitVersion":"v1.37.2"}`)
			case "/api/v1/nodes":
				if r.Header.Get("Authorization") != "Bearer s3cret-token" {
					http.Error(w, "Unauthorized", http.StatusUnauthorized)
					return
				}
				_, _ = io.WriteString(w, `{"kind":"NodeList","items":[]}`)
			default:
				http.NotFound(w, r)
			}
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String(), &n
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	us := func(v int) time.Duration { return time.Duration(v) * time.Microsecond }
	h := Histogram([]time.Duration{us(100), us(250), us(251), us(900), 3 * time.Millisecond, 9 * time.Second})
	want := map[float64]int{0.25: 2, 0.5: 1, 1: 1, 5: 1, 0: 1}
	total := 0
	for _, b := range h {
		total += b.Count
		if b.Count != want[b.LeMs] {
			t.Errorf("bucket <= %g ms holds %d; want %d", b.LeMs, b.Count, want[b.LeMs])
		}
	}
	if total != 6 || h[len(h)-1].LeMs != 0 {
		t.Errorf("histogram %+v: total %d; want 6 with a last +Inf (0) bucket", h, total)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	url, seen := apiServer(t, ca.leaf(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour*90), loopback), tls.VersionTLS12)
	d := &netDialer{}
	base := HTTPSRequest{URL: url, CAPEM: ca.pem, Token: "s3cret-token"}
	pl, err := Latency(context.Background(), d, base, "/api/v1/nodes", 50)
	if err != nil {
		t.Fatal(err)
	}
	if pl.Samples != 50 || pl.Errors != 0 || seen.Load() != 51 {
		t.Errorf("samples %d errors %d, server saw %d; want 50, 0 and 51 (one warm-up)", pl.Samples, pl.Errors, seen.Load())
	}
	if !(0 < pl.P50 && pl.P50 <= pl.P95 && pl.P95 <= pl.P99 && pl.P99 <= pl.Max && pl.Mean > 0) {
		t.Errorf("p50 %v p95 %v p99 %v max %v mean %v; want 0 < p50 <= p95 <= p99 <= max", pl.P50, pl.P95, pl.P99, pl.Max, pl.Mean)
	}
	if n := d.dials.Load(); n != 1 {
		t.Errorf("dialed %d connections; want 1 (sequential requests on one kept-alive connection)", n)
	}
	sum := 0
	for _, b := range pl.Histogram {
		sum += b.Count
	}
	if sum != 50 {
		t.Errorf("histogram holds %d samples; want 50", sum)
	}
	// Without the token the warm-up already fails.
	base.Token = ""
	if _, err := Latency(context.Background(), d, base, "/api/v1/nodes", 5); err == nil || !strings.Contains(err.Error(), "status 401") {
		t.Errorf("without a token: %v; want a warm-up error naming status 401", err)
	}
}

// execRunner runs `sh -c SCRIPT` as kubectl, so exit codes come from real processes.
func execRunner(script string) KubectlRunner {
	return func(ctx context.Context, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "sh", "-c", script, "kubectl", strings.Join(args, " ")).Output()
		if err != nil {
			return string(out), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
		}
		return string(out), nil
	}
}

func TestKubectl(t *testing.T) {
	t.Parallel()
	// yes to everything but create pods, which is denied with exit 1 (as kubectl does).
	run := execRunner(`case "$1" in *"create pods"*) echo no; exit 1;; *) echo "yes $1";; esac`)
	res := Kubectl(context.Background(), run, "/tmp/kc", DefaultKubectlCalls)
	if len(res) != len(DefaultKubectlCalls) {
		t.Fatalf("got %d results; want %d", len(res), len(DefaultKubectlCalls))
	}
	for _, r := range res {
		if !r.Check.Pass {
			t.Errorf("%v: %+v; want a pass", r.Args, r.Check)
		}
		if !strings.Contains(r.Output, "--kubeconfig /tmp/kc") && r.ExitCode == 0 {
			t.Errorf("%v: output %q; want the kubeconfig passed", r.Args, r.Output)
		}
	}
	if r := res[3]; r.ExitCode != 1 || r.Output != "no" {
		t.Errorf("can-i create pods: exit %d output %q; want 1 and no", r.ExitCode, r.Output)
	}
	// An administrator's token: can-i create pods says yes, and the check fails.
	res = Kubectl(context.Background(), execRunner(`echo yes`), "/tmp/kc", DefaultKubectlCalls[3:])
	if res[0].Check.Pass || !strings.Contains(res[0].Check.Reason, "exited 0; want 1") {
		t.Errorf("admin token: %+v; want a failure naming the exit codes", res[0].Check)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "solution CA")
	b, err := ParseBudgets("budgets.yaml", fixtures.Budgets())
	if err != nil {
		t.Fatal(err)
	}
	good := ca.leaf(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour*365), loopback)
	t.Run("hardened endpoint passes", func(t *testing.T) {
		t.Parallel()
		url, _ := apiServer(t, good, tls.VersionTLS12)
		rep, err := Run(context.Background(), &netDialer{}, Options{URL: url, CAPEM: ca.pem, Token: "s3cret-token", Samples: 20,
			Budgets: b, Kubeconfig: "/tmp/kc", Kubectl: execRunner(`case "$1" in *"create pods"*) exit 1;; esac; echo ok`)})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass {
			t.Errorf("report failed; want a pass: %+v %+v", rep.Checks, rep.Budget)
		}
		if rep.HTTP == nil || rep.HTTP.Status != 200 || rep.HTTP.BodySHA256 == "" || rep.HTTP.Timing.Total <= 0 || rep.HTTP.Timing.TLS <= 0 || rep.HTTP.Timing.Connect <= 0 || rep.HTTP.Timing.FirstByte <= 0 {
			t.Errorf("http %+v; want 200 with a digest and every timing phase", rep.HTTP)
		}
		if len(rep.Latency) != 2 || len(rep.Kubectl) != 4 || rep.TLS == nil || len(rep.Versions) != 4 || len(rep.Budget) == 0 {
			t.Errorf("report lacks measurements: %d latency, %d kubectl, tls %v, %d versions, %d budget verdicts", len(rep.Latency), len(rep.Kubectl), rep.TLS != nil, len(rep.Versions), len(rep.Budget))
		}
		data, _ := json.Marshal(rep)
		if strings.Contains(string(data), "s3cret-token") {
			t.Error("the JSON report holds the token")
		}
	})
	t.Run("TLS 1.0 and expiring certificate fail", func(t *testing.T) {
		t.Parallel()
		soon := ca.leaf(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour*5), loopback)
		url, _ := apiServer(t, soon, tls.VersionTLS10)
		rep, err := Run(context.Background(), &netDialer{}, Options{URL: url, CAPEM: ca.pem, Token: "s3cret-token", Samples: 5, Budgets: b,
			Groups: []string{GroupTLS, GroupVersions}})
		if err != nil {
			t.Fatal(err)
		}
		failed := map[string]bool{}
		for _, c := range rep.Checks {
			if !c.Pass {
				failed[c.Name] = true
			}
		}
		if rep.Pass || !failed[CheckExpiry] || !failed[CheckVersions] || failed[CheckChain] {
			t.Errorf("checks %+v; want expiry and versions to fail, the chain to pass", rep.Checks)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		t.Parallel()
		for _, o := range []Options{
			{URL: "http://10.0.0.1"},
			{URL: "https://127.0.0.1", Budgets: b, Profile: "moon"},
			{URL: "https://127.0.0.1", Groups: []string{GroupKubectl}},
		} {
			if _, err := Run(context.Background(), &netDialer{}, o); err == nil {
				t.Errorf("Run(%+v): no error", o)
			}
		}
		if _, err := ParseGroups("http,bogus"); err == nil || !strings.Contains(err.Error(), "supported: http, tls") {
			t.Errorf("ParseGroups: %v; want an error listing the groups", err)
		}
	})
}
