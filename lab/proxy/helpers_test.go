package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reachgate/lab/internal/syncbuf"
	"sync"
	"testing"
	"time"

	rgpki "reachgate/framework/pki"
)

// testPKI is the tests' certificates: the cluster CA signing the API
// server's certificate, an impostor CA signing a look-alike, and the
// proxy's own certificate for the client side.
type testPKI struct {
	clusterCAFile   string // PEM of the cluster CA
	clusterCA       *x509.CertPool
	upstream        tls.Certificate // signed by the cluster CA
	impostor        tls.Certificate // same names, signed by the impostor CA
	proxyCertFile   string
	proxyKeyFile    string
	proxyCA         *x509.CertPool // trusts the proxy's certificate
	upstreamLeafDER []byte
}

var pki *testPKI

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "proxy-test-pki-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pki, err = newTestPKI(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build test PKI:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newTestPKI(dir string) (*testPKI, error) {
	apiNames := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	clusterCA, err := rgpki.NewCA("cluster-ca", 25*time.Hour)
	if err != nil {
		return nil, err
	}
	impostorCA, err := rgpki.NewCA("impostor-ca", 25*time.Hour)
	if err != nil {
		return nil, err
	}
	proxyCA, err := rgpki.NewCA("proxy-ca", 25*time.Hour)
	if err != nil {
		return nil, err
	}
	leaf := func(ca *rgpki.KeyPair, cn string, dns []string, ips []net.IP) (*rgpki.KeyPair, error) {
		return ca.Issue(rgpki.CertSpec{CommonName: cn, DNSNames: dns, IPs: ips,
			Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: 25 * time.Hour})
	}
	upstream, err := leaf(clusterCA, "kube-apiserver", apiNames, loopback)
	if err != nil {
		return nil, err
	}
	impostor, err := leaf(impostorCA, "kube-apiserver", apiNames, loopback)
	if err != nil {
		return nil, err
	}
	proxyLeaf, err := leaf(proxyCA, "reachgate-proxy", []string{"proxy.example"}, []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")})
	if err != nil {
		return nil, err
	}
	p := &testPKI{
		clusterCAFile:   filepath.Join(dir, "cluster-ca.crt"),
		clusterCA:       x509.NewCertPool(),
		upstream:        upstream.TLSCertificate(clusterCA),
		impostor:        impostor.TLSCertificate(impostorCA),
		proxyCertFile:   filepath.Join(dir, "proxy.crt"),
		proxyKeyFile:    filepath.Join(dir, "proxy.key"),
		proxyCA:         x509.NewCertPool(),
		upstreamLeafDER: upstream.Cert.Raw,
	}
	p.clusterCA.AddCert(clusterCA.Cert)
	p.proxyCA.AddCert(proxyCA.Cert)
	for name, data := range map[string][]byte{
		p.clusterCAFile: clusterCA.CertPEM,
		p.proxyCertFile: append(append([]byte{}, proxyLeaf.CertPEM...), proxyCA.CertPEM...),
		p.proxyKeyFile:  proxyLeaf.KeyPEM,
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// echo is what the fake API server answers on /version and most paths.
type echo struct {
	Method        string
	Path          string
	Authorization string
	XForwardedFor string
}

// newUpstream starts a fake API server on 127.0.0.1 serving cert. Besides
// echoing requests it has /watch (one line, then more once release is
// closed), /ticks?n=&every= (n lines at an interval), /slow?d= (answers
// after d), /upgrade (101, then echoes bytes), /headers (the request's
// headers as JSON, Host among them) and /trailers (a body and a trailer).
func newUpstream(t testing.TB, cert tls.Certificate) (*httptest.Server, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echo{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Forwarded-For")})
	})
	mux.HandleFunc("/watch", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "event 1")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, "event 2")
	})
	mux.HandleFunc("/ticks", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		every, _ := time.ParseDuration(r.URL.Query().Get("every"))
		for i := range n {
			time.Sleep(every)
			fmt.Fprintf(w, "tick %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
			fmt.Fprintln(w, "done")
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/upgrade", func(w http.ResponseWriter, r *http.Request) {
		proto := r.Header.Get("Upgrade")
		if proto == "" {
			http.Error(w, "no Upgrade header", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", proto)
		brw.Flush()
		io.Copy(conn, brw) // echo until the client half-closes or leaves
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(h)
	})
	mux.HandleFunc("/trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		fmt.Fprintln(w, "body")
		w.Header().Set("X-Checksum", "abc")
	})
	return newUpstreamWith(t, cert, mux), release
}

// newUpstreamWith serves h over TLS with cert on 127.0.0.1, after the
// configure functions had their say on the server.
func newUpstreamWith(t testing.TB, cert tls.Certificate, h http.Handler, configure ...func(*http.Server)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	for _, f := range configure {
		f(srv.Config)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelInfo)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// upstreamAddr is the "127.0.0.1:port" of an httptest server.
func upstreamAddr(srv *httptest.Server) string { return srv.Listener.Addr().String() }

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = syncbuf.Buffer

// testLogger logs into a buffer that is printed only when the test fails.
func testLogger(t testing.TB) (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy log:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// startProxy serves cfg on a fresh listener at host:0 (127.0.0.1 when host
// is empty) and returns its address and a stop function that cancels the
// context and returns Serve's result. Cleanup stops it too.
func startProxy(t testing.TB, host string, cfg Config, log *slog.Logger) (addr string, stop func() error) {
	t.Helper()
	return startServer(t, host, cfg, log, shutdownGrace)
}

func startServer(t testing.TB, host string, cfg Config, log *slog.Logger, grace time.Duration) (addr string, stop func() error) {
	t.Helper()
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ln.Addr().String()
	s, err := newServer(cfg, log)
	if err != nil {
		ln.Close()
		t.Fatalf("newServer: %v", err)
	}
	s.grace = grace
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(grace + 5*time.Second):
				result = fmt.Errorf("serve did not return %v after cancel", grace+5*time.Second)
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return ln.Addr().String(), stop
}

// l7Config is an l7 config for upstream, verified against the cluster CA as
// kubernetes.default.
func l7Config(upstream string) Config {
	return Config{
		Mode: ModeL7, Upstream: upstream,
		CertFile: pki.proxyCertFile, KeyFile: pki.proxyKeyFile,
		UpstreamCAFile: pki.clusterCAFile, UpstreamServerName: "kubernetes.default",
		AccessLog: true,
	}
}

// proxyClient is an HTTPS client trusting the proxy's certificate.
func proxyClient(t testing.TB, h2 bool) *http.Client {
	var protos http.Protocols
	protos.SetHTTP1(!h2)
	protos.SetHTTP2(h2)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pki.proxyCA},
		Protocols:           &protos,
		MaxIdleConnsPerHost: 16,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// readLine reads one line from r with a deadline, failing the test on timeout.
func readLine(t *testing.T, r *bufio.Reader, within time.Duration) string {
	t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := r.ReadString('\n'); ch <- res{s, err} }()
	select {
	case got := <-ch:
		if got.err != nil {
			t.Fatalf("read line: %v (got %q)", got.err, got.s)
		}
		return got.s
	case <-time.After(within):
		t.Fatalf("no line within %v", within)
		return ""
	}
}
