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
	"net/http"
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
	tr := &http.Transport{
		DialContext:       d.DialContext,
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
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return HTTPResult{URL: r.URL, Duration: time.Since(start)}, fmt.Errorf("GET %s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	res := HTTPResult{URL: r.URL, Status: resp.StatusCode, Body: body, Duration: time.Since(start)}
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
