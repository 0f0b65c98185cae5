package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// serveL4 passes TCP through to the upstream: no TLS here, so the client
// sees (and must verify) the API server's own certificate.
func (s *server) serveL4(ctx context.Context, ln net.Listener) error {
	// force is canceled when the grace period is over: it aborts dials in
	// progress, and closing tracked closes the connections.
	force, cancelForce := context.WithCancel(context.Background())
	defer cancelForce()
	var (
		mu      sync.Mutex
		tracked = map[net.Conn]struct{}{}
		wg      sync.WaitGroup
		active  inflight
	)
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if force.Err() != nil {
			return false
		}
		tracked[c] = struct{}{}
		return true
	}
	untrack := func(c net.Conn) {
		mu.Lock()
		delete(tracked, c)
		mu.Unlock()
	}

	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if backoff, err = acceptBackoff(err, backoff); err != nil {
				ln.Close()
				return errors.Join(err, s.drainL4(&active, &wg, cancelForce, &mu, tracked))
			}
			s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		active.begin()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer active.end()
			s.pipe(force, c, track, untrack)
		}()
	}
	return s.drainL4(&active, &wg, cancelForce, &mu, tracked)
}

// drainL4 waits up to the grace period for the connections to end, then
// closes the rest.
func (s *server) drainL4(active *inflight, wg *sync.WaitGroup, cancelForce context.CancelFunc, mu *sync.Mutex, tracked map[net.Conn]struct{}) error {
	gctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	if !active.wait(gctx) {
		s.log.Warn("shutdown grace period over: closing the remaining connections",
			"grace", s.grace, "inFlight", active.n.Load())
	}
	mu.Lock()
	cancelForce()
	for c := range tracked {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	return nil
}

// pipe connects one client to the upstream and copies both ways. When one
// side finishes sending, the other is told so with a TCP half-close and the
// opposite direction goes on; an error in either direction closes both.
func (s *server) pipe(force context.Context, client net.Conn, track func(net.Conn) bool, untrack func(net.Conn)) {
	start := time.Now()
	defer client.Close()
	if !track(client) {
		return
	}
	defer untrack(client)
	var d net.Dialer
	dctx, cancel := context.WithTimeout(force, dialTimeout)
	up, err := d.DialContext(dctx, "tcp", s.cfg.Upstream)
	cancel()
	if err != nil {
		s.log.Warn("dial upstream failed", "client", client.RemoteAddr().String(), "upstream", s.cfg.Upstream, "err", err)
		return
	}
	defer up.Close()
	if !track(up) {
		return
	}
	defer untrack(up)

	type result struct {
		n   int64
		err error
	}
	toUp := make(chan result, 1)
	go func() {
		n, err := copyHalf(up, client)
		toUp <- result{n, err}
	}()
	nDown, errDown := copyHalf(client, up)
	r := <-toUp
	if s.cfg.AccessLog {
		errText := ""
		if err := errors.Join(r.err, errDown); err != nil {
			errText = err.Error()
		}
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "access",
			slog.String("client", client.RemoteAddr().String()),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytesUp", r.n), slog.Int64("bytesDown", nDown),
			slog.String("err", errText))
	}
}

// copyHalf copies src to dst (io.Copy splices TCP to TCP on Linux). At
// src's end of stream it half-closes dst; on an error it closes both, which
// also stops the copy in the other direction.
func copyHalf(dst, src net.Conn) (int64, error) {
	n, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			if cerr := cw.CloseWrite(); cerr == nil || errors.Is(cerr, net.ErrClosed) {
				return n, nil
			}
		}
	}
	dst.Close()
	src.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil // closed by the other direction, which has the real error
	}
	return n, err
}
