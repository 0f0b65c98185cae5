package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// HTTPSRequest describes a GET over verified TLS.
type HTTPSRequest struct {
	URL string
	// CAPEM is the bundle the server certificate must chain to.
	CAPEM []byte
	// ServerName overrides the name verified (kubeconfig tls-server-name).
	ServerName string
	// Token is sent as a bearer token; it never appears in results.
	Token   string
	Timeout time.Duration
	// NoKeepAlive opens a new connection for the request (each one crosses the load
	// balancer's backend choice afresh).
	NoKeepAlive bool
}

// HTTPResult is what came back.
type HTTPResult struct {
	URL        string        `json:"url"`
	Status     int           `json:"status"`
	Body       []byte        `json:"-"`
	BodySHA256 string        `json:"bodySHA256"`
	TLSVersion string        `json:"tlsVersion"`
	Duration   time.Duration `json:"duration"`
	// Timing breaks the request down (a fresh connection each call).
	Timing Timing `json:"timing"`
}

// Timing is where a request's time went, each phase measured from the request's start
// except Connect and TLS, which are the phases' own lengths.
type Timing struct {
	Connect   Ms `json:"connectMs"`
	TLS       Ms `json:"tlsMs"`
	FirstByte Ms `json:"firstByteMs"` // start to the first response byte
	Total     Ms `json:"totalMs"`     // start to the end of the body
}

// timer records the phases of one request: the dial around the Dialer (whatever it is),
// the rest through httptrace. Callbacks may run on the transport's goroutines.
type timer struct {
	mu                                                       sync.Mutex
	start, connStart, connDone, tlsStart, tlsDone, firstByte time.Time
}

func (t *timer) mark(at *time.Time) {
	t.mu.Lock()
	if at.IsZero() {
		*at = time.Now()
	}
	t.mu.Unlock()
}

func (t *timer) dial(d Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		t.mark(&t.connStart)
		c, err := d.DialContext(ctx, network, addr)
		t.mark(&t.connDone)
		return c, err
	}
}

func (t *timer) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		TLSHandshakeStart:    func() { t.mark(&t.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { t.mark(&t.tlsDone) },
		GotFirstResponseByte: func() { t.mark(&t.firstByte) },
	}
}

func (t *timer) timing(end time.Time) Timing {
	t.mu.Lock()
	defer t.mu.Unlock()
	span := func(a, b time.Time) Ms {
		if a.IsZero() || b.IsZero() {
			return 0
		}
		return ToMs(b.Sub(a))
	}
	return Timing{Connect: span(t.connStart, t.connDone), TLS: span(t.tlsStart, t.tlsDone),
		FirstByte: span(t.start, t.firstByte), Total: span(t.start, end)}
}

// HTTPSGet performs the request from d.
func HTTPSGet(ctx context.Context, d Dialer, r HTTPSRequest) (HTTPResult, error) {
	if len(r.CAPEM) == 0 {
		return HTTPResult{}, errors.New("no CA bundle given: refusing to skip verification")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(r.CAPEM) {
		return HTTPResult{}, errors.New("CA bundle holds no PEM certificate")
	}
	if r.Timeout == 0 {
		r.Timeout = 10 * time.Second
	}
	var tm timer
	tr := &http.Transport{
		DialContext:       tm.dial(d),
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: r.ServerName, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: r.NoKeepAlive,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: r.Timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return HTTPResult{}, err
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, tm.trace()))
	start := time.Now()
	tm.start = start // before any transport goroutine exists
	resp, err := client.Do(req)
	if err != nil {
		end := time.Now()
		return HTTPResult{URL: r.URL, Duration: end.Sub(start), Timing: tm.timing(end)}, fmt.Errorf("GET %s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	end := time.Now()
	res := HTTPResult{URL: r.URL, Status: resp.StatusCode, Body: body, Duration: end.Sub(start), Timing: tm.timing(end)}
	sum := sha256.Sum256(body)
	res.BodySHA256 = hex.EncodeToString(sum[:])
	if resp.TLS != nil {
		res.TLSVersion = tls.VersionName(resp.TLS.Version)
	}
	if err != nil {
		return res, fmt.Errorf("read body of %s: %w", r.URL, err)
	}
	return res, nil
}
