package gfe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long in-flight requests get once ctx is done; streams still open
// then (watches, upgraded connections) are cut.
const shutdownGrace = 5 * time.Second

// Serve runs the front end on every listener with TLS (1.2 at least) from certFile and
// keyFile, the endpoints' public certificate, until ctx is done; then it shuts down
// gracefully and returns nil. It returns an error if a listener fails.
func Serve(ctx context.Context, ls []net.Listener, certFile, keyFile, configPath string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(ls) == 0 {
		return errors.New("gfe: no listeners")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("gfe: load serving certificate: %w", err)
	}
	srv := &http.Server{
		Handler:           NewHandler(configPath, log),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errs := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			if err := srv.ServeTLS(l, "", ""); !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("gfe: serve on %s: %w", l.Addr(), err)
				return
			}
			errs <- nil
		}()
	}
	var first error
	pending := len(ls)
	select {
	case <-ctx.Done():
	case first = <-errs:
		pending--
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("gfe: graceful shutdown cut short", "err", err)
		_ = srv.Close()
	}
	for ; pending > 0; pending-- {
		if err := <-errs; first == nil {
			first = err
		}
	}
	return first
}
