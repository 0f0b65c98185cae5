package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const token = "Bearer s3cr3t-token-value"

func TestL7Request(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, logs := testLogger(t)
	addr, stop := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	for _, tc := range []struct {
		name      string
		h2        bool
		method    string
		path      string
		auth      string
		wantProto string
	}{
		{"http1 GET with token", false, http.MethodGet, "/version", token, "HTTP/1.1"},
		{"http2 GET with token", true, http.MethodGet, "/api/v1/nodes", token, "HTTP/2.0"},
		{"http1 POST without token", false, http.MethodPost, "/apis/authentication.k8s.io/v1/tokenreviews", "", "HTTP/1.1"},
		{"http2 DELETE", true, http.MethodDelete, "/api/v1/namespaces/default/pods/x", token, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tc.method, "https://"+addr+tc.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			req.Header.Set("X-Forwarded-For", "6.6.6.6") // a client must not choose its address
			res, err := proxyClient(t, tc.h2).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Proto != tc.wantProto {
				t.Fatalf("got %d %s; want 200 %s", res.StatusCode, res.Proto, tc.wantProto)
			}
			var got echo
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			want := echo{Method: tc.method, Path: tc.path, Authorization: tc.auth, XForwardedFor: "127.0.0.1"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("upstream saw (-want +got):\n%s", d)
			}
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests: the access log must have their
		// lines and never the token. Stopping first lets every line be written.
		if err := stop(); err != nil {
			t.Error(err)
		}
		out := logs.String()
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("the log holds the token:\n%s", out)
		}
		if !strings.Contains(out, `msg=access client=127.0.0.1:`) || !strings.Contains(out, "path=/version status=200") {
			t.Errorf("no access log line for /version:\n%s", out)
		}
	})
}

func TestL7Streaming(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			t.Parallel()
			up, release := newUpstream(t, pki.upstream)
			log, _ := testLogger(t)
			addr, _ := startProxy(t, "", l7Config(upstreamAddr(up)), log)
			res, err := proxyClient(t, h2).Get("https://" + addr + "/watch")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			r := bufio.NewReader(res.Body)
			// The upstream is still holding the response open: the first
			// event must arrive anyway, as for kubectl get -w.
			if got := readLine(t, r, 5*time.Second); got != "event 1\n" {
				t.Fatalf("got %q; want event 1", got)
			}
			close(release)
			if got := readLine(t, r, 5*time.Second); got != "event 2\n" {
				t.Fatalf("got %q; want event 2", got)
			}
		})
	}
}

func TestL7ReadTimeoutIsBetweenReads(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, _ := testLogger(t)
	cfg := l7Config(upstreamAddr(up))
	cfg.ReadTimeout = "300ms"
	addr, _ := startProxy(t, "", cfg, log)
	c := proxyClient(t, false)
	for _, tc := range []struct {
		name     string
		path     string
		wantCode int
		wantBody string
	}{
		// 6 × 100 ms is longer than the timeout, but no silence is.
		{"steady stream outlives the timeout", "/ticks?n=6&every=100ms", 200, "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\ntick 5\n"},
		{"silent upstream", "/slow?d=3s", http.StatusGatewayTimeout, "504 Gateway Timeout: the upstream did not answer in time\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.Get("https://" + addr + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != tc.wantCode || string(body) != tc.wantBody {
				t.Fatalf("got %d %q (err %v); want %d %q", res.StatusCode, body, err, tc.wantCode, tc.wantBody)
			}
		})
	}
}

func TestL7Upgrade(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, logs := testLogger(t)
	addr, stop := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	for _, proto := range []string{"SPDY/3.1", "websocket"} { // kubectl exec: SPDY, or websocket since 1.30
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.proxyCA, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "POST /upgrade HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", addr, token, proto)
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != proto {
				t.Fatalf("got %s Upgrade=%q; want 101 %s", res.Status, res.Header.Get("Upgrade"), proto)
			}
			for _, msg := range []string{"ping\n", "stdin line 2\n"} {
				if _, err := io.WriteString(conn, msg); err != nil {
					t.Fatal(err)
				}
				if got := readLine(t, br, 5*time.Second); got != msg {
					t.Fatalf("echo: got %q; want %q", got, msg)
				}
			}
		})
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
		if out := logs.String(); !strings.Contains(out, "path=/upgrade status=101") {
			t.Errorf("no access log line with status 101:\n%s", out)
		}
	})
}

// TestL7UpstreamVerification: with upstreamCAFile set an impostor is
// refused; with it empty (the article's nginx, proxy_ssl_verify off) the
// impostor is accepted and receives the client's token. The last case
// reproduces that defect on purpose.
func TestL7UpstreamVerification(t *testing.T) {
	t.Parallel()
	real, _ := newUpstream(t, pki.upstream)
	impostor, _ := newUpstream(t, pki.impostor)
	for _, tc := range []struct {
		name       string
		upstream   string
		caFile     string
		serverName string
		wantCode   int
		wantLog    string
	}{
		{"real upstream verified by name", upstreamAddr(real), pki.clusterCAFile, "kubernetes.default", 200, "upstreamVerified=true"},
		{"real upstream verified by IP SAN", upstreamAddr(real), pki.clusterCAFile, "", 200, `upstreamVerify="against`},
		{"name not in the certificate", upstreamAddr(real), pki.clusterCAFile, "apiserver.example", 502, "upstream certificate rejected"},
		{"impostor refused", upstreamAddr(impostor), pki.clusterCAFile, "kubernetes.default", 502, "certificate signed by unknown authority"},
		{"impostor accepted when unverified (seed defect)", upstreamAddr(impostor), "", "kubernetes.default", 200, "upstreamVerified=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, logs := testLogger(t)
			cfg := l7Config(tc.upstream)
			cfg.UpstreamCAFile, cfg.UpstreamServerName = tc.caFile, tc.serverName
			addr, _ := startProxy(t, "", cfg, log)
			req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/version", nil)
			req.Header.Set("Authorization", token)
			res, err := proxyClient(t, false).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.wantCode {
				t.Fatalf("got %d %q; want %d", res.StatusCode, body, tc.wantCode)
			}
			if tc.wantCode == 502 && !strings.Contains(string(body), "certificate failed verification") {
				t.Errorf("got body %q; want it to name the certificate failure", body)
			}
			if out := logs.String(); !strings.Contains(out, tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, out)
			}
		})
	}
}

func TestL7MinTLSVersion(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	for _, tc := range []struct {
		name         string
		minVersion   string
		clientMax    uint16
		wantRejected bool
	}{
		{"default refuses TLS 1.1", "", tls.VersionTLS11, true},
		{"1.2 refuses TLS 1.1", "1.2", tls.VersionTLS11, true},
		{"1.2 accepts TLS 1.2", "1.2", tls.VersionTLS12, false},
		{"1.0 accepts TLS 1.1 (seed's ssl_protocols)", "1.0", tls.VersionTLS11, false},
		{"1.0 accepts TLS 1.0", "1.0", tls.VersionTLS10, false},
		{"1.3 refuses TLS 1.2", "1.3", tls.VersionTLS12, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, _ := testLogger(t)
			cfg := l7Config(upstreamAddr(up))
			cfg.MinTLSVersion = tc.minVersion
			addr, _ := startProxy(t, "", cfg, log)
			tr := &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: pki.proxyCA, MinVersion: tls.VersionTLS10, MaxVersion: tc.clientMax,
			}}
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/version")
			if tc.wantRejected {
				if err == nil {
					res.Body.Close()
					t.Fatalf("got %s over TLS <= %x; want the handshake refused", res.Status, tc.clientMax)
				}
				if !strings.Contains(err.Error(), "protocol version") {
					t.Errorf("got %v; want a protocol version alert", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 || res.TLS.Version != tc.clientMax {
				t.Fatalf("got %d over %x; want 200 over %x", res.StatusCode, res.TLS.Version, tc.clientMax)
			}
		})
	}
}

func TestL7UpstreamUnreachable(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	gone := upstreamAddr(up)
	up.Close()
	log, _ := testLogger(t)
	addr, _ := startProxy(t, "", l7Config(gone), log)
	res, err := proxyClient(t, false).Get("https://" + addr + "/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "unreachable") {
		t.Fatalf("got %d %q; want 502 unreachable", res.StatusCode, body)
	}
}
