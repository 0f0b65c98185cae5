package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"reachgate/framework/pki"
)

// timeoutErr is a net.Error that reports a timeout without wrapping any sentinel.
type timeoutErr struct{ timeout bool }

func (e timeoutErr) Error() string   { return "synthetic net error" }
func (e timeoutErr) Timeout() bool   { return e.timeout }
func (e timeoutErr) Temporary() bool { return false }

func opErr(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want Outcome
	}{
		{"nil", nil, Connected},
		{"deadline exceeded", context.DeadlineExceeded, Timeout},
		{"wrapped deadline exceeded", fmt.Errorf("dial: %w", context.DeadlineExceeded), Timeout},
		{"os deadline exceeded", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, Timeout},
		{"connection refused", opErr(syscall.ECONNREFUSED), Refused},
		{"wrapped connection refused", fmt.Errorf("probe: %w", opErr(syscall.ECONNREFUSED)), Refused},
		{"host unreachable", opErr(syscall.EHOSTUNREACH), Unreachable},
		{"network unreachable", fmt.Errorf("probe: %w", opErr(syscall.ENETUNREACH)), Unreachable},
		{"net.Error timeout", timeoutErr{timeout: true}, Timeout},
		{"wrapped net.Error timeout", fmt.Errorf("x: %w", timeoutErr{timeout: true}), Timeout},
		{"net.Error without timeout", timeoutErr{timeout: false}, Failed},
		{"unrelated", errors.New("no such host"), Failed},
		{"canceled", context.Canceled, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v; want %v", tt.err, got, tt.want)
			}
		})
	}
}

// blockingDialer never connects: it waits for the context, as a dial into a silent
// blackhole does.
type blockingDialer struct{ calls atomic.Int32 }

func (d *blockingDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	d.calls.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestTCP(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()

	tests := []struct {
		name    string
		d       Dialer
		addr    string
		timeout time.Duration
		want    Outcome
		wantErr bool
		// accepted, if set, must see the connection arrive at the listener.
		accepted chan struct{}
	}{
		{"listener", &net.Dialer{}, l.Addr().String(), 5 * time.Second, Connected, false, accepted},
		{"closed port", &net.Dialer{}, closedPort(t), 5 * time.Second, Refused, true, nil},
		{"blackhole", &blockingDialer{}, "192.0.2.1:443", 50 * time.Millisecond, Timeout, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := TCP(context.Background(), tt.d, tt.addr, tt.timeout)
			if res.Outcome != tt.want {
				t.Errorf("got outcome %v (error %q); want %v", res.Outcome, res.Error, tt.want)
			}
			if res.Addr != tt.addr {
				t.Errorf("got addr %v; want %v", res.Addr, tt.addr)
			}
			if (res.Error != "") != tt.wantErr {
				t.Errorf("got error %q; want error: %v", res.Error, tt.wantErr)
			}
			if res.Duration <= 0 || res.Duration > tt.timeout+2*time.Second {
				t.Errorf("got duration %v; want in (0, %v]", res.Duration, tt.timeout+2*time.Second)
			}
			if tt.accepted == nil {
				return
			}
			select {
			case <-tt.accepted:
			case <-time.After(5 * time.Second):
				t.Error("listener never accepted the probe's connection")
			}
		})
	}
}

func TestTCPTimeoutHonoursDeadline(t *testing.T) {
	t.Parallel()
	d := &blockingDialer{}
	const timeout = 100 * time.Millisecond
	res := TCP(context.Background(), d, "192.0.2.1:443", timeout)
	if res.Outcome != Timeout {
		t.Errorf("got outcome %v; want %v", res.Outcome, Timeout)
	}
	if res.Duration < timeout {
		t.Errorf("got duration %v; want at least the timeout %v", res.Duration, timeout)
	}
	if got := d.calls.Load(); got != 1 {
		t.Errorf("got %d dials; want 1", got)
	}
}

// tlsServer records what it was sent.
type tlsServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	auth     []string
}

const body = `{"kind":"Status","status":"ok"}`

func newTLSServer(t *testing.T) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, body)
	}))
	// Handshakes the wrong-CA case aborts would otherwise be logged as noise.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *tlsServer) seen() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, append([]string(nil), s.auth...)
}

func (s *tlsServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// otherCA is a self-signed CA that signed nothing the server presents.
func otherCA(t *testing.T) []byte {
	t.Helper()
	ca, err := pki.NewCA("impostor CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca.CertPEM
}

func TestHTTPSGet(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte(body))
	wantHash := hex.EncodeToString(sum[:])
	tests := []struct {
		name     string
		token    string
		wantAuth string
	}{
		{"with token", "s3cr3t-token", "Bearer s3cr3t-token"},
		{"without token", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTLSServer(t)
			url := srv.URL + "/healthz"
			res, err := HTTPSGet(context.Background(), &net.Dialer{}, HTTPSRequest{URL: url, CAPEM: srv.caPEM(), Token: tt.token, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("HTTPSGet: %v", err)
			}
			if res.Status != http.StatusTeapot {
				t.Errorf("got status %v; want %v", res.Status, http.StatusTeapot)
			}
			if string(res.Body) != body {
				t.Errorf("got body %q; want %q", res.Body, body)
			}
			if res.BodySHA256 != wantHash {
				t.Errorf("got body hash %v; want %v", res.BodySHA256, wantHash)
			}
			if !strings.HasPrefix(res.TLSVersion, "TLS 1.") {
				t.Errorf("got TLS version %q; want TLS 1.x", res.TLSVersion)
			}
			if res.URL != url {
				t.Errorf("got URL %v; want %v", res.URL, url)
			}
			n, auth := srv.seen()
			if n != 1 {
				t.Fatalf("server got %d requests; want 1", n)
			}
			if auth[0] != tt.wantAuth {
				t.Errorf("server got Authorization %q; want %q", auth[0], tt.wantAuth)
			}
		})
	}
}

func TestHTTPSGetRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		ca          func(t *testing.T) []byte
		wantErr     string
		wantRequest bool // whether the TLS handshake may even start
	}{
		{"wrong CA", otherCA, "certificate", true},
		{"empty CA", func(*testing.T) []byte { return nil }, "CA bundle", false},
		{"CA without PEM", func(*testing.T) []byte { return []byte("not a pem") }, "no PEM", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTLSServer(t)
			var dials atomic.Int32
			d := dialerFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			})
			_, err := HTTPSGet(context.Background(), d, HTTPSRequest{URL: srv.URL, CAPEM: tt.ca(t), Token: "t", Timeout: 5 * time.Second})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v; want one mentioning %q", err, tt.wantErr)
			}
			if n, _ := srv.seen(); n != 0 {
				t.Errorf("server handled %d requests; want 0", n)
			}
			if got := dials.Load() > 0; got != tt.wantRequest {
				t.Errorf("got dialed=%v; want %v", got, tt.wantRequest)
			}
		})
	}
}

type dialerFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialerFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}
