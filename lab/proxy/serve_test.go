package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clientFor returns an HTTPS client for a proxy in mode: it trusts the
// proxy (l7) or the cluster CA as kubernetes.default (l4). Keep-alive is
// off, so a finished request leaves no connection behind.
func clientFor(t *testing.T, mode string) *http.Client {
	tc := &tls.Config{RootCAs: pki.proxyCA}
	if mode == ModeL4 {
		tc = &tls.Config{RootCAs: pki.clusterCA, ServerName: "kubernetes.default"}
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func configFor(mode, upstream string) Config {
	if mode == ModeL4 {
		return l4Config(upstream)
	}
	return l7Config(upstream)
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeL7, ModeL4} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			up, release := newUpstream(t, pki.upstream)
			log, logs := testLogger(t)
			addr, stop := startProxy(t, "", configFor(mode, upstreamAddr(up)), log)
			res, err := clientFor(t, mode).Get("https://" + addr + "/watch")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			r := bufio.NewReader(res.Body)
			readLine(t, r, 5*time.Second) // the request is in flight

			stopped := make(chan error, 1)
			go func() { stopped <- stop() }()
			select {
			case err := <-stopped:
				t.Fatalf("Serve returned %v with a request in flight", err)
			case <-time.After(200 * time.Millisecond):
			}
			// Stopped accepting while the request runs on.
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatal("a new connection was accepted after the context was done")
			}
			close(release)
			if got := readLine(t, r, 5*time.Second); got != "event 2\n" {
				t.Fatalf("got %q; want the in-flight request to finish", got)
			}
			io.Copy(io.Discard, r)
			select {
			case err := <-stopped:
				if err != nil {
					t.Fatalf("got %v; want nil", err)
				}
			case <-time.After(4 * time.Second):
				t.Fatal("Serve did not return after the last request finished")
			}
			if out := logs.String(); strings.Contains(out, "grace period over") {
				t.Errorf("connections were forced closed:\n%s", out)
			}
		})
	}
}

// TestShutdownGraceExpires: what is still running after the grace period
// is closed, and Serve returns nil.
func TestShutdownGraceExpires(t *testing.T) {
	t.Parallel()
	const grace = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		mode string
		// open starts something that never ends on its own and returns a
		// reader that reports the end.
		open func(t *testing.T, addr string) io.Reader
	}{
		{"l7 watch", ModeL7, func(t *testing.T, addr string) io.Reader {
			res, err := clientFor(t, ModeL7).Get("https://" + addr + "/watch")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { res.Body.Close() })
			r := bufio.NewReader(res.Body)
			readLine(t, r, 5*time.Second)
			return r
		}},
		{"l7 upgraded connection", ModeL7, func(t *testing.T, addr string) io.Reader {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.proxyCA, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			fmt.Fprintf(conn, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
			br := bufio.NewReader(conn)
			if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 101 {
				t.Fatalf("upgrade: %v", err)
			}
			return br
		}},
		{"l4 idle connection", ModeL4, func(t *testing.T, addr string) io.Reader {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.clusterCA, ServerName: "kubernetes.default"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			return conn
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up, _ := newUpstream(t, pki.upstream)
			log, logs := testLogger(t)
			addr, stop := startServer(t, "", configFor(tc.mode, upstreamAddr(up)), log, grace)
			r := tc.open(t, addr)
			start := time.Now()
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < grace || took > grace+2*time.Second {
				t.Errorf("Serve returned after %v; want about %v", took, grace)
			}
			ended := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, r); ended <- err }()
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the connection is still open after Serve returned")
			}
			if out := logs.String(); !strings.Contains(out, "grace period over") {
				t.Errorf("log lacks the forced close:\n%s", out)
			}
		})
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string // "" = serves until canceled, then returns nil
	}{
		{"l7 serves", withListen(l7Config(upstreamAddr(up)), "127.0.0.1:0"), ""},
		{"l4 serves", withListen(l4Config(upstreamAddr(up)), "127.0.0.1:0"), ""},
		{"invalid config", withListen(Config{Mode: "l5", Upstream: upstreamAddr(up)}, "127.0.0.1:0"), `mode: "l5" is not l7 or l4`},
		{"address in use", withListen(l4Config(upstreamAddr(up)), busy.Addr().String()), "listen on " + busy.Addr().String()},
		{"missing certificate file", withListen(withCert(l7Config(upstreamAddr(up)), "/nonexistent/proxy.crt"), "127.0.0.1:0"), "certFile/keyFile: open /nonexistent/proxy.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, logs := testLogger(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- Run(ctx, tc.cfg, log) }()
			if tc.wantErr == "" {
				deadline := time.Now().Add(5 * time.Second)
				for !strings.Contains(logs.String(), "proxy started") && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}
			select {
			case err := <-done:
				if tc.wantErr == "" && err != nil {
					t.Fatalf("got %v; want nil", err)
				}
				if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Fatalf("got %v; want an error containing %q", err, tc.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
		})
	}
}

func withListen(c Config, listen string) Config { c.Listen = listen; return c }
func withCert(c Config, certFile string) Config { c.CertFile = certFile; return c }
