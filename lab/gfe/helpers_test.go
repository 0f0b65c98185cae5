package gfe_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reachgate/lab/internal/syncbuf"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"reachgate/framework/pki"
	"reachgate/lab/gfe"
)

const (
	host      = "gke-1a2b3c.us-central1.gke.goog"
	cluster   = "private-cluster"
	reader    = "system:serviceaccount:kube-system:tp-reader"
	other     = "system:serviceaccount:default:other"
	goodToken = "good-token-5ecret-ABC"
	otherTok  = "other-token-5ecret-DEF"
	badToken  = "bad-token-5ecret-GHI"
)

// logBuffer is a goroutine-safe log sink.
type logBuffer = syncbuf.Buffer

// fixture is a fake control plane behind a front end handler: the control plane serves
// TokenReviews (knowing goodToken and otherTok) and a few API paths.
type fixture struct {
	dir        string
	configPath string
	config     gfe.Config
	ca         *pki.KeyPair
	upstream   *httptest.Server
	front      *httptest.Server
	logs       *logBuffer
	reviews    atomic.Int32
	// release lets /stream send its second line.
	release chan struct{}
}

// versionAnswer is what the fake control plane's /version returns: what reached it.
type versionAnswer struct {
	GitVersion    string `json:"gitVersion"`
	Authorization string `json:"authorization"`
	ClientCert    bool   `json:"clientCert"`
	ForwardedFor  string `json:"forwardedFor"`
}

// newFixture starts the fake control plane and a front end whose config has the
// endpoint host (listing reader) after edit changes it.
func newFixture(t *testing.T, edit func(*gfe.Config)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), logs: &logBuffer{}, release: make(chan struct{})}
	var err error
	if f.ca, err = pki.NewCA("lab cluster CA", time.Hour); err != nil {
		t.Fatal(err)
	}
	serving, err := f.ca.Issue(pki.CertSpec{CommonName: "kube-apiserver", DNSNames: []string{"kubernetes"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	reviewer, err := f.ca.Issue(pki.CertSpec{CommonName: "gfe-reviewer", Organization: []string{"system:masters"},
		Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ca.Write(f.dir, "ca"); err != nil {
		t.Fatal(err)
	}
	if err := reviewer.Write(f.dir, "reviewer"); err != nil {
		t.Fatal(err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Cert)
	f.upstream = httptest.NewUnstartedServer(http.HandlerFunc(f.serveUpstream))
	f.upstream.TLS = &tls.Config{
		Certificates: []tls.Certificate{serving.TLSCertificate()},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
	}
	f.upstream.StartTLS()
	t.Cleanup(f.upstream.Close)

	f.config = gfe.Config{Endpoints: []gfe.Endpoint{f.endpoint(host, cluster, true, reader)}}
	if edit != nil {
		edit(&f.config)
	}
	f.configPath = filepath.Join(f.dir, "gfe.json")
	f.writeConfig(t)
	f.front = httptest.NewServer(gfe.NewHandler(f.configPath, slog.New(slog.NewTextHandler(f.logs, nil))))
	t.Cleanup(f.front.Close)
	// Runs before the servers close, which wait for a blocked /stream.
	t.Cleanup(func() {
		select {
		case <-f.release:
		default:
			close(f.release)
		}
	})
	return f
}

// endpoint is a config entry for the fake control plane.
func (f *fixture) endpoint(host, cluster string, allowExternal bool, principals ...string) gfe.Endpoint {
	return gfe.Endpoint{
		Host: host, Cluster: cluster, AllowExternalTraffic: allowExternal, Principals: principals,
		Upstream:           f.upstream.Listener.Addr().String(),
		UpstreamCA:         filepath.Join(f.dir, "ca.crt"),
		UpstreamServerName: "kubernetes",
		ReviewerCert:       filepath.Join(f.dir, "reviewer.crt"),
		ReviewerKey:        filepath.Join(f.dir, "reviewer.key"),
	}
}

func (f *fixture) writeConfig(t *testing.T) {
	t.Helper()
	if err := gfe.WriteConfig(f.configPath, f.config); err != nil {
		t.Fatal(err)
	}
}

// serveUpstream is the fake control plane.
func (f *fixture) serveUpstream(w http.ResponseWriter, r *http.Request) {
	clientCert := len(r.TLS.PeerCertificates) > 0
	switch r.URL.Path {
	case "/apis/authentication.k8s.io/v1/tokenreviews":
		if r.Method != http.MethodPost || !clientCert || r.TLS.PeerCertificates[0].Subject.CommonName != "gfe-reviewer" {
			http.Error(w, `{"kind":"Status","code":403}`, http.StatusForbidden)
			return
		}
		var tr struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Spec       struct {
				Token string `json:"token"`
			} `json:"spec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&tr); err != nil || tr.APIVersion != "authentication.k8s.io/v1" || tr.Kind != "TokenReview" {
			http.Error(w, "bad TokenReview", http.StatusBadRequest)
			return
		}
		f.reviews.Add(1)
		user := map[string]string{goodToken: reader, otherTok: other}[tr.Spec.Token]
		// Like the API server, the answer repeats the token.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":%q},`+
			`"status":{"authenticated":%t,"user":{"username":%q}}}`, tr.Spec.Token, user != "", user)
	case "/version":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(versionAnswer{GitVersion: "v1.33.0", Authorization: r.Header.Get("Authorization"),
			ClientCert: clientCert, ForwardedFor: r.Header.Get("X-Forwarded-For")})
	case "/stream":
		fmt.Fprintln(w, "first")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-f.release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, "second")
	case "/upgrade":
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw)
	default:
		http.NotFound(w, r)
	}
}

// get sends GET path to the front end for host, with token as bearer if not "".
func (f *fixture) get(t *testing.T, host, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.front.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.front.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s at %s: %v", path, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s at %s: %v", path, host, err)
	}
	return resp.StatusCode, string(body)
}

// want checks a request's status and that its body contains each of wantBody.
func (f *fixture) want(t *testing.T, host, path, token string, wantStatus int, wantBody ...string) string {
	t.Helper()
	status, body := f.get(t, host, path, token)
	if status != wantStatus {
		t.Fatalf("GET %s at %s: status %d, want %d; body %q", path, host, status, wantStatus, body)
	}
	for _, w := range wantBody {
		if !strings.Contains(body, w) {
			t.Errorf("GET %s at %s: body %q lacks %q", path, host, body, w)
		}
	}
	return body
}
