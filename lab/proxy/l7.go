package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"
)

// l7Proxy terminates the clients' TLS and re-encrypts to the upstream.
// Connections go through the HTTP/1.1 loop (h1.go), which serves plain
// requests itself and hands HTTP/2 and everything else to http.Server.
// GETs and HEADs without a body take the lean forwarder (forward.go) over
// pooled upstream connections; the rest takes httputil.ReverseProxy.
type l7Proxy struct {
	log        *slog.Logger
	upstream   string
	serverName string
	srv        *http.Server
	transport  *http.Transport // for what the lean path leaves to ReverseProxy
	pool       *upstreamPool   // for the lean path (forward.go)
	h1         *h1Loop
	active     inflight
	// base is every request's parent context; canceling it ends upgraded
	// (hijacked) connections, which http.Server.Shutdown does not track.
	base       context.Context
	cancelBase context.CancelFunc
}

func newL7Proxy(cfg Config, log *slog.Logger) (*l7Proxy, error) {
	src := "proxy config"
	if cfg.Source != "" {
		src += " " + cfg.Source
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: certFile/keyFile: %w", src, err)
	}
	minVersion, ok := minTLSVersions[cfg.MinTLSVersion]
	if !ok {
		minVersion = minTLSVersions[DefaultMinTLSVersion]
	}
	readTimeout, err := time.ParseDuration(cfg.ReadTimeout)
	if err != nil {
		readTimeout, _ = time.ParseDuration(DefaultReadTimeout)
	}

	p := &l7Proxy{log: log, upstream: cfg.Upstream, serverName: cfg.UpstreamServerName}
	if p.serverName == "" {
		p.serverName = upstreamHost(cfg.Upstream)
	}
	upTLS := &tls.Config{
		ServerName:         p.serverName,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
		NextProtos:         []string{"http/1.1"},
	}
	if cfg.UpstreamCAFile == "" {
		// The article's nginx (proxy_ssl_verify off): kept so that reachgate
		// can show an impostor upstream being accepted.
		upTLS.InsecureSkipVerify = true
	} else {
		pemData, err := os.ReadFile(cfg.UpstreamCAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: upstreamCAFile: %w", src, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("%s: upstreamCAFile: %s holds no PEM certificate", src, cfg.UpstreamCAFile)
		}
		upTLS.RootCAs = pool
	}

	// HTTP/1.1 only towards the upstream, like nginx: every protocol upgrade
	// (SPDY for kubectl exec as well as websocket) needs it, and a pool of
	// kept-alive connections serves plain requests as fast.
	var h1 http.Protocols
	h1.SetHTTP1(true)
	dialer := &idleTimeoutDialer{d: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}, timeout: readTimeout}
	p.transport = &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       upTLS,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: readTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies as they are, never re-encode
		Protocols:             &h1,
	}
	p.pool = &upstreamPool{addr: cfg.Upstream, dialer: dialer, tls: upTLS,
		handshakeTimeout: 10 * time.Second, idleTimeout: 90 * time.Second, maxIdle: 256}
	target := &url.URL{Scheme: "https", Host: cfg.Upstream}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:     p.transport,
		FlushInterval: -1, // stream watches and logs as they come
		BufferPool:    bufferPool{},
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler:  p.upstreamError,
	}

	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lean(r) {
			p.forward(w, r)
		} else {
			rp.ServeHTTP(w, r)
		}
	})
	if cfg.AccessLog {
		handler = accessLog(log, handler)
	}
	p.base, p.cancelBase = context.WithCancel(context.Background())
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.active.begin()
		defer p.active.end()
		handler.ServeHTTP(w, r)
	})
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minVersion, NextProtos: []string{"h2", "http/1.1"}}
	// The HTTP/1.1 loop (h1.go) accepts every connection and does the TLS
	// handshake; http.Server gets the HTTP/2 ones and those the loop hands
	// over.
	p.h1 = &h1Loop{p: p, handler: counted, tls: tlsConf, conns: map[*h1Conn]struct{}{}}
	p.srv = &http.Server{
		Handler:           withTLSState(counted),
		TLSConfig:         tlsConf.Clone(),
		Protocols:         &protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelInfo),
		BaseContext:       func(net.Listener) context.Context { return p.base },
		ConnContext:       connContext,
	}
	return p, nil
}

func (p *l7Proxy) serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	defer p.transport.CloseIdleConnections()
	defer p.pool.closeIdle()
	defer p.cancelBase()
	p.h1.queue = newConnQueue(ln.Addr())
	served := make(chan error, 1)
	go func() { served <- p.srv.Serve(p.h1.queue) }()
	accepted := make(chan error, 1)
	go func() { accepted <- p.h1.accept(ln) }()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var failed error
	select {
	case err := <-accepted:
		if ctx.Err() == nil {
			ln.Close()
			failed = fmt.Errorf("serve l7 on %s: %w", ln.Addr(), err)
		}
	case err := <-served:
		ln.Close()
		<-accepted
		failed = fmt.Errorf("serve l7 on %s: %w", ln.Addr(), err)
	}
	gctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// Idle connections close now, busy ones after their current request;
	// upgraded connections are counted by active only.
	p.h1.shutdown()
	err := p.srv.Shutdown(gctx)
	p.h1.queue.Close() // Shutdown closed it, unless Serve had failed already
	if err == nil && p.h1.wait(gctx) && p.active.wait(gctx) {
		return failed
	}
	p.log.Warn("shutdown grace period over: closing the remaining connections",
		"grace", grace, "inFlight", p.active.n.Load())
	p.srv.Close()
	p.cancelBase()
	p.h1.closeAll()
	wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
	defer wcancel()
	p.h1.wait(wctx)
	p.active.wait(wctx)
	return failed
}

// upstreamError answers a failed upstream round trip. A certificate that
// fails verification gets its own answer and an error log line: that is an
// impostor, or a wrong upstreamCAFile/upstreamServerName.
func (p *l7Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	var verr *tls.CertificateVerificationError
	var nerr net.Error
	switch {
	case errors.As(err, &verr):
		p.log.Error("upstream certificate rejected", "upstream", p.upstream,
			"serverName", p.serverName, "client", r.RemoteAddr, "err", err)
		http.Error(w, "502 Bad Gateway: the upstream's certificate failed verification", http.StatusBadGateway)
	case r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
		p.log.Debug("client gone before the upstream answered", "client", r.RemoteAddr, "path", r.URL.Path)
		w.WriteHeader(http.StatusBadGateway)
	case errors.As(err, &nerr) && nerr.Timeout():
		p.log.Warn("upstream timed out", "upstream", p.upstream, "path", r.URL.Path, "err", err)
		http.Error(w, "504 Gateway Timeout: the upstream did not answer in time", http.StatusGatewayTimeout)
	default:
		p.log.Warn("upstream request failed", "upstream", p.upstream, "path", r.URL.Path, "err", err)
		http.Error(w, "502 Bad Gateway: the upstream is unreachable", http.StatusBadGateway)
	}
}

// bufferPool recycles ReverseProxy's copy buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
