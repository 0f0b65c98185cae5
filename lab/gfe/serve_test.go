package gfe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"reachgate/framework/pki"
	"reachgate/lab/gfe"
)

func TestServe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	// The front end's certificate is public: it chains to a CA the caller trusts, not to
	// the cluster CA.
	public, err := pki.NewCA("lab public CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := public.Issue(pki.CertSpec{CommonName: "*.us-central1.gke.goog", DNSNames: []string{"*.us-central1.gke.goog"},
		Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Write(f.dir, "gfe"); err != nil {
		t.Fatal(err)
	}
	var ls []net.Listener
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- gfe.Serve(ctx, ls, f.dir+"/gfe.crt", f.dir+"/gfe.key", f.configPath, slog.New(slog.NewTextHandler(f.logs, nil)))
	}()

	roots := x509.NewCertPool()
	roots.AddCert(public.Cert)
	client := func(maxVersion uint16) *http.Client {
		c := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host, MaxVersion: maxVersion},
			ForceAttemptHTTP2: true,
		}, Timeout: 10 * time.Second}
		return c
	}
	h2 := client(0)
	for _, l := range ls {
		req, err := http.NewRequest(http.MethodGet, "https://"+l.Addr().String()+"/version", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+goodToken)
		resp, err := h2.Do(req)
		if err != nil {
			t.Fatalf("GET /version on %s: %v", l.Addr(), err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Errorf("on %s: %s %s, want 200 over HTTP/2; body %q", l.Addr(), resp.Proto, resp.Status, body)
		}
	}

	// TLS 1.1 is refused.
	if resp, err := client(tls.VersionTLS11).Get("https://" + ls[0].Addr().String() + "/version"); err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}

	// No idle connection holds up the graceful shutdown.
	h2.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.Dial("tcp", ls[0].Addr().String()); err == nil {
		t.Error("the listener still accepts after Serve returned")
	}
}

func TestServeBadCertificate(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	err = gfe.Serve(context.Background(), []net.Listener{l}, dir+"/none.crt", dir+"/none.key", dir+"/gfe.json", nil)
	if err == nil {
		t.Fatal("Serve started without a certificate")
	}
}
