package proxy

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// accessLog logs one line per request: client, method, path, status,
// duration and body bytes. Never headers (Authorization carries the token)
// and never the query string.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			// Logged even when the handler panics (ReverseProxy aborts a
			// response whose upstream failed mid-body that way).
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			log.LogAttrs(context.Background(), slog.LevelInfo, "access",
				slog.String("client", r.RemoteAddr),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("duration", time.Since(start)),
				slog.Int64("bytes", rec.bytes))
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder notes the status and body size of a response. It hands flushes
// and hijacks to the real ResponseWriter, which ReverseProxy needs for
// streaming and for protocol upgrades.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 { // 1xx are interim answers
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// FlushError spares http.ResponseController its Unwrap walk on every flush.
func (r *recorder) FlushError() error {
	switch f := r.ResponseWriter.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
		return nil
	}
	return http.ErrNotSupported
}

// Hijack happens only for a 101 Switching Protocols answer.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.status = http.StatusSwitchingProtocols
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
