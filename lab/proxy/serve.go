package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// shutdownGrace is how long in-flight requests and connections may run on
// after the context is done.
const shutdownGrace = 5 * time.Second

// dialTimeout bounds connecting to the upstream (nginx: proxy_connect_timeout).
const dialTimeout = 10 * time.Second

// Run serves cfg until ctx is done, then stops accepting, lets in-flight
// requests and connections finish for up to 5 s, closes the rest and
// returns nil. Invalid configs and listen failures are returned at once.
// Run is for the proxy's own process: it sets the GC target when GOGC does
// not (runtime.go).
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	applyRuntimeDefaults()
	s, err := newServer(cfg, log)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return s.serve(ctx, ln)
}

// Serve is Run on a listener the caller opened (tests use loopback);
// cfg.Listen must still be valid but is not used. Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, cfg Config, log *slog.Logger) error {
	s, err := newServer(cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	return s.serve(ctx, ln)
}

// server is a validated Config turned into what serving needs.
type server struct {
	cfg   Config
	log   *slog.Logger
	grace time.Duration
	l7    *l7Proxy // nil in l4 mode
	// verify describes how the upstream's certificate is checked, for logs.
	verify   string
	verified bool
}

func newServer(cfg Config, log *slog.Logger) (*server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, log: log, grace: shutdownGrace}
	switch cfg.Mode {
	case ModeL7:
		p, err := newL7Proxy(cfg, log)
		if err != nil {
			return nil, err
		}
		s.l7 = p
		s.verified = cfg.UpstreamCAFile != ""
		if s.verified {
			s.verify = fmt.Sprintf("against %s as %q", cfg.UpstreamCAFile, p.serverName)
		} else {
			s.verify = "off (any certificate is accepted)"
		}
	case ModeL4:
		s.verify = "by the client (TLS passes through)"
	}
	return s, nil
}

func (s *server) serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("proxy started", "mode", s.cfg.Mode, "listen", ln.Addr().String(),
		"upstream", s.cfg.Upstream, "upstreamVerified", s.verified, "upstreamVerify", s.verify)
	if s.cfg.Mode == ModeL7 && !s.verified {
		s.log.Warn("the upstream's certificate is NOT verified (upstreamCAFile is empty): " +
			"whoever answers at the upstream address receives the clients' tokens")
	}
	var err error
	if s.l7 != nil {
		err = s.l7.serve(ctx, ln, s.grace)
	} else {
		err = s.serveL4(ctx, ln)
	}
	if err != nil {
		return err
	}
	s.log.Info("proxy stopped", "listen", ln.Addr().String())
	return nil
}

// upstreamHost is the IP of an upstream that passed Validate.
func upstreamHost(upstream string) string {
	return netip.MustParseAddrPort(upstream).Addr().String()
}

// inflight counts running requests or connections; one atomic add each way
// keeps it off the request path's costs.
type inflight struct{ n atomic.Int64 }

func (f *inflight) begin() { f.n.Add(1) }
func (f *inflight) end()   { f.n.Add(-1) }

// wait polls until nothing is in flight or ctx is done; it reports whether
// everything finished. Polling is fine: it only runs at shutdown.
func (f *inflight) wait(ctx context.Context) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for f.n.Load() > 0 {
		select {
		case <-ctx.Done():
			return f.n.Load() == 0
		case <-t.C:
		}
	}
	return true
}

// acceptBackoff returns how long to wait after a failed Accept, or an error
// when the failure is permanent (as net/http does for EMFILE and the like).
func acceptBackoff(err error, prev time.Duration) (time.Duration, error) {
	if errors.Is(err, net.ErrClosed) {
		return 0, err
	}
	var ne net.Error
	//nolint:staticcheck // Temporary is what Accept errors still use for EMFILE.
	if errors.As(err, &ne) && ne.Temporary() {
		if prev == 0 {
			return 5 * time.Millisecond, nil
		}
		return min(2*prev, time.Second), nil
	}
	return 0, err
}
