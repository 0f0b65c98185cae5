package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reachgate/framework/pki"
	"regexp"
	"strings"
	"testing"
	"time"

	"reachgate/framework/probe"
)

// probeTarget serves /version and /api/v1/nodes (token only) over TLS on loopback with a
// certificate for 127.0.0.1 from its own CA, accepting versions from minV; it returns the
// URL and the CA file.
func probeTarget(t *testing.T, minV uint16, validity time.Duration) (string, string) {
	t.Helper()
	ca, err := pki.NewCA("probe test CA", 24*time.Hour*365)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.CertSpec{CommonName: "127.0.0.1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Validity: validity})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/nodes" && r.Header.Get("Authorization") != "Bearer tok-123" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV}, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return "https://" + ln.Addr().String(), caFile
}

func TestProbeCommand(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("passing endpoint", func(t *testing.T) {
		url, ca := probeTarget(t, tls.VersionTLS12, 24*time.Hour*200)
		var out bytes.Buffer
		err := runProbe(context.Background(), probeFlags{url: url, ca: ca, tokenFile: tokenFile, samples: 20,
			checks: "http,tls,versions,latency", paths: "/version,/api/v1/nodes", profile: "none"}, &out)
		if err != nil {
			t.Fatalf("probe: %v\n%s", err, out.String())
		}
		var rep probe.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("stdout is not one JSON report: %v\n%s", err, out.String())
		}
		if !rep.Pass || len(rep.Latency) != 2 || rep.TLS == nil || rep.TLS.LeafSHA256 == "" || len(rep.Budget) == 0 {
			t.Errorf("report %+v; want a pass with latency, TLS and budget verdicts", rep)
		}
		if strings.Contains(out.String(), "tok-123") {
			t.Error("the output holds the token")
		}
	})
	t.Run("TLS 1.0 fails with exit 1", func(t *testing.T) {
		url, ca := probeTarget(t, tls.VersionTLS10, 24*time.Hour*200)
		var out bytes.Buffer
		err := runProbe(context.Background(), probeFlags{url: url, ca: ca, checks: "versions", profile: "none"}, &out)
		if code := exitCode(err); code != 1 {
			t.Errorf("exit code %d (%v); want 1", code, err)
		}
		if !strings.Contains(out.String(), `"accepted": true`) || !strings.Contains(out.String(), "TLS 1.0") {
			t.Errorf("output lacks the accepted TLS 1.0:\n%s", out.String())
		}
	})
	t.Run("bad input exits 2", func(t *testing.T) {
		url, ca := probeTarget(t, tls.VersionTLS12, 24*time.Hour*200)
		badBudgets := filepath.Join(t.TempDir(), "b.yaml")
		if err := os.WriteFile(badBudgets, []byte("kind: Budgets\nbogus: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []probeFlags{
			{url: url},                                 // no CA
			{url: url, ca: ca, checks: "http,dns"},     // unknown check
			{url: url, ca: ca, budgets: badBudgets},    // bad budgets file
			{url: url, ca: ca, profile: "moon"},        // unknown profile
			{url: url, ca: "/nonexistent/ca.crt"},      // missing CA file
			{url: url, ca: ca, kubeconfig: "/nope.kc"}, // missing kubeconfig
		} {
			if code := exitCode(runProbe(context.Background(), f, io.Discard)); code != 2 {
				t.Errorf("probe %+v: exit %d; want 2", f, code)
			}
		}
	})
	t.Run("endpoint from a kubeconfig", func(t *testing.T) {
		url, ca := probeTarget(t, tls.VersionTLS12, 24*time.Hour*200)
		caPEM, _ := os.ReadFile(ca)
		kc := filepath.Join(t.TempDir(), "kubeconfig")
		doc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + url + "\n    certificate-authority-data: " +
			b64(caPEM) + "\nusers:\n- name: u\n  user:\n    token: tok-123\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
		if err := os.WriteFile(kc, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := runProbe(context.Background(), probeFlags{kubeconfig: kc, checks: "http,latency", samples: 5, paths: "/api/v1/nodes", profile: "none"}, &out); err != nil {
			t.Fatalf("probe with a kubeconfig: %v\n%s", err, out.String())
		}
	})
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	if err := runReport(context.Background(), dir, io.Discard); err == nil || !strings.Contains(err.Error(), "nothing to report") {
		t.Errorf("empty dir: %v; want 'nothing to report'", err)
	}
	junit := `<?xml version="1.0"?><testsuites><testsuite name="tls" tests="1" time="2.5"><testcase name="tls answers [solution, ilb-proxy, hardened, nginx]" classname="tls" time="1"></testcase></testsuite></testsuites>`
	if err := os.WriteFile(filepath.Join(dir, "junit.xml"), []byte(junit), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runReport(context.Background(), dir, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 specs: 1 passed") {
		t.Errorf("summary %q", out.String())
	}
	// One timing line per suite, and the total; JUnit records no lab times.
	if !regexp.MustCompile(`(?m)^tls +2\.50 +- +- +1$`).MatchString(out.String()) || !regexp.MustCompile(`(?m)^total +2\.50 +0\.00 +0\.00 +1$`).MatchString(out.String()) {
		t.Errorf("summary %q; want the timing table with a tls and a total line", out.String())
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(html), "ilb-proxy / hardened / nginx") {
		t.Errorf("report.html: %v; want the matrix row", err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// reachgate probe --tcp is how a VM behind the agent connects for the harness: its JSON
// result names the outcome, and the exit status says whether it connected.
func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	defer ln.Close()
	for _, tc := range []struct {
		addr string
		want probe.Outcome
	}{{open, probe.Connected}, {refused, probe.Refused}} {
		var out bytes.Buffer
		err := runProbe(context.Background(), probeFlags{tcp: tc.addr, timeout: 2 * time.Second}, &out)
		var res probe.TCPResult
		if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
			t.Fatalf("%s: stdout is not a TCP result: %v\n%s", tc.addr, jerr, out.String())
		}
		if res.Outcome != tc.want || res.Addr != tc.addr {
			t.Errorf("%s: %+v; want %s", tc.addr, res, tc.want)
		}
		if (err == nil) != (tc.want == probe.Connected) {
			t.Errorf("%s: exit error %v for outcome %s", tc.addr, err, res.Outcome)
		}
	}
	if err := runProbe(context.Background(), probeFlags{tcp: "no-port", timeout: time.Second}, io.Discard); err == nil {
		t.Error("--tcp without a port was accepted")
	}
}
