package proxy

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func l4Config(upstream string) Config {
	return Config{Mode: ModeL4, Upstream: upstream, AccessLog: true}
}

// TestL4Passthrough: the client talks TLS with the upstream itself, so it
// sees the API server's certificate, which names kubernetes.default and the
// endpoint IP but not the proxy's address: it needs tls-server-name.
func TestL4Passthrough(t *testing.T) {
	t.Parallel()
	real, _ := newUpstream(t, pki.upstream)
	impostor, _ := newUpstream(t, pki.impostor)
	for _, tc := range []struct {
		name       string
		upstream   string
		serverName string // "" = the proxy's address, as kubectl without tls-server-name
		wantErr    string
	}{
		{"tls-server-name kubernetes.default", upstreamAddr(real), "kubernetes.default", ""},
		{"no tls-server-name: the proxy's IP is not in the certificate", upstreamAddr(real), "", "certificate is valid for 127.0.0.1, not 127.0.0.2"},
		{"impostor refused by the client", upstreamAddr(impostor), "kubernetes.default", "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, _ := testLogger(t)
			// 127.0.0.2 stands for the ILB address: not a SAN of the upstream.
			addr, _ := startProxy(t, "127.0.0.2", l4Config(tc.upstream), log)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.clusterCA, ServerName: tc.serverName}}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/version", nil)
			req.Header.Set("Authorization", token)
			res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v; want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("got %d; want 200", res.StatusCode)
			}
			if got := res.TLS.PeerCertificates[0].Raw; !bytes.Equal(got, pki.upstreamLeafDER) {
				t.Errorf("got peer certificate %s; want the upstream's", res.TLS.PeerCertificates[0].Subject)
			}
		})
	}
}

// tcpUpstream accepts one connection and runs serve on it.
func tcpUpstream(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		serve(c.(*net.TCPConn))
	}()
	return ln.Addr().String()
}

func TestL4HalfClose(t *testing.T) {
	t.Parallel()
	t.Run("client finishes sending first", func(t *testing.T) {
		t.Parallel()
		up := tcpUpstream(t, func(c *net.TCPConn) {
			b, _ := io.ReadAll(c) // until the proxy relays the client's FIN
			fmt.Fprintf(c, "got %d bytes", len(b))
		})
		log, _ := testLogger(t)
		addr, _ := startProxy(t, "", l4Config(up), log)
		c := dialTCP(t, addr)
		io.WriteString(c, "hello")
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		// The answer still comes back over the half-closed connection.
		if got, err := io.ReadAll(c); err != nil || string(got) != "got 5 bytes" {
			t.Fatalf("got %q, %v; want %q", got, err, "got 5 bytes")
		}
	})
	t.Run("upstream finishes sending first", func(t *testing.T) {
		t.Parallel()
		received := make(chan string, 1)
		up := tcpUpstream(t, func(c *net.TCPConn) {
			io.WriteString(c, "banner\n")
			c.CloseWrite()
			b, _ := io.ReadAll(c)
			received <- string(b)
		})
		log, _ := testLogger(t)
		addr, _ := startProxy(t, "", l4Config(up), log)
		c := dialTCP(t, addr)
		if got, err := io.ReadAll(c); err != nil || string(got) != "banner\n" {
			t.Fatalf("got %q, %v; want the banner, then end of stream", got, err)
		}
		// The client may still send after the upstream's FIN.
		io.WriteString(c, "after eof")
		c.CloseWrite()
		select {
		case got := <-received:
			if got != "after eof" {
				t.Fatalf("upstream got %q; want %q", got, "after eof")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream got nothing after its half-close")
		}
	})
}

func TestL4UpstreamDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	log, logs := testLogger(t)
	addr, _ := startProxy(t, "", l4Config(gone), log)
	c := dialTCP(t, addr)
	// The proxy closes the client's connection when it cannot dial.
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("got data; want the connection closed")
	}
	if out := logs.String(); !strings.Contains(out, "dial upstream failed") {
		t.Errorf("log lacks the dial failure:\n%s", out)
	}
}

func dialTCP(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}
