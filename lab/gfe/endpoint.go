package gfe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// reviewTTL is how long a TokenReview's answer, positive or negative, is reused.
const reviewTTL = 10 * time.Second

// reviewTimeout bounds one TokenReview.
const reviewTimeout = 10 * time.Second

// endpoint is a configured endpoint with its clients to the control plane, built on first
// use (so certificate files written after the config are picked up).
type endpoint struct {
	Endpoint
	log *slog.Logger

	mu sync.Mutex
	c  *clients
}

// clients talk to one control plane: review creates TokenReviews with the reviewer's
// client certificate; proxy forwards callers' requests without one.
type clients struct {
	review     *http.Client
	proxy      *httputil.ReverseProxy
	transports []*http.Transport
}

func newEndpoint(ep Endpoint, log *slog.Logger) *endpoint {
	return &endpoint{Endpoint: ep, log: log.With("host", canonicalHost(ep.Host), "upstream", ep.Upstream)}
}

// clients returns the endpoint's clients, building them if needed. A failure is not
// kept: the next request tries again.
func (e *endpoint) clients() (*clients, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c != nil {
		return e.c, nil
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: e.UpstreamServerName}
	if e.UpstreamCA != "" {
		pem, err := os.ReadFile(e.UpstreamCA)
		if err != nil {
			return nil, fmt.Errorf("read upstream CA: %w", err)
		}
		base.RootCAs = x509.NewCertPool()
		if !base.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream CA %s holds no PEM certificate", e.UpstreamCA)
		}
	}
	reviewTLS := base.Clone()
	switch {
	case e.ReviewerCert != "" && e.ReviewerKey != "":
		cert, err := tls.LoadX509KeyPair(e.ReviewerCert, e.ReviewerKey)
		if err != nil {
			return nil, fmt.Errorf("load reviewer certificate: %w", err)
		}
		reviewTLS.Certificates = []tls.Certificate{cert}
	case e.ReviewerCert != "" || e.ReviewerKey != "":
		return nil, errors.New("reviewerCert and reviewerKey go together: set both or neither")
	}
	reviewTransport, proxyTransport := newTransport(reviewTLS), newTransport(base)
	target := &url.URL{Scheme: "https", Host: e.Upstream}
	e.c = &clients{
		review: &http.Client{Transport: reviewTransport, Timeout: reviewTimeout},
		proxy: &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				// The caller's Authorization header is kept: the API server
				// authenticates the caller itself.
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport:     proxyTransport,
			FlushInterval: -1, // watches and logs stream
			ErrorLog:      slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				e.log.Warn("gfe: forward to the control plane failed", "path", r.URL.Path, "err", err)
				http.Error(w, fmt.Sprintf("the control plane of cluster %s is unreachable", e.Cluster), http.StatusBadGateway)
			},
		},
		transports: []*http.Transport{reviewTransport, proxyTransport},
	}
	return e.c, nil
}

// close drops the endpoint's idle connections once a new config replaced it.
func (e *endpoint) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c != nil {
		for _, t := range e.c.transports {
			t.CloseIdleConnections()
		}
	}
}

// newTransport is a transport to the control plane: no proxy from the environment.
func newTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// reviewKey identifies a TokenReview's answer: the control plane and the token's hash.
// The token itself is never kept.
type reviewKey struct {
	upstream string
	sum      [sha256.Size]byte
}

// reviewAnswer is a cached answer: the username, "" when the token is not valid.
type reviewAnswer struct {
	user    string
	expires time.Time
}

// tokenCache keeps TokenReview answers for reviewTTL.
type tokenCache struct {
	mu sync.Mutex
	m  map[reviewKey]reviewAnswer
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[reviewKey]reviewAnswer{}} }

func (c *tokenCache) get(k reviewKey, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[k]
	if !ok || !now.Before(a.expires) {
		return "", false
	}
	return a.user, true
}

func (c *tokenCache) put(k reviewKey, user string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 1024 {
		for key, a := range c.m {
			if !now.Before(a.expires) {
				delete(c.m, key)
			}
		}
	}
	c.m[k] = reviewAnswer{user: user, expires: now.Add(reviewTTL)}
}

// authenticate returns the token's username, "" if the token is not valid, or an error
// if the control plane could not tell.
func (h *handler) authenticate(ctx context.Context, ep *endpoint, c *clients, token string) (string, error) {
	key := reviewKey{upstream: ep.Upstream, sum: sha256.Sum256([]byte(token))}
	if user, ok := h.tokens.get(key, time.Now()); ok {
		return user, nil
	}
	user, err := review(ctx, c.review, ep.Upstream, token)
	if err != nil {
		return "", err
	}
	h.tokens.put(key, user, time.Now())
	return user, nil
}

// tokenReviewAnswer is the part of an authentication.k8s.io/v1 TokenReview answer the
// front end reads.
type tokenReviewAnswer struct {
	Status struct {
		Authenticated bool `json:"authenticated"`
		User          struct {
			Username string `json:"username"`
		} `json:"user"`
	} `json:"status"`
}

// review creates a TokenReview for token on the control plane at upstream.
func review(ctx context.Context, client *http.Client, upstream, token string) (string, error) {
	body, err := json.Marshal(map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenReview",
		"spec":       map[string]string{"token": token},
	})
	if err != nil {
		return "", fmt.Errorf("encode TokenReview: %w", err)
	}
	u := "https://" + upstream + "/apis/authentication.k8s.io/v1/tokenreviews"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("TokenReview request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("create TokenReview: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read TokenReview answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return "", fmt.Errorf("create TokenReview: the control plane answered %s: %s", resp.Status, msg)
	}
	var answer tokenReviewAnswer
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", fmt.Errorf("decode TokenReview answer: %w", err)
	}
	if !answer.Status.Authenticated {
		return "", nil
	}
	return answer.Status.User.Username, nil
}
