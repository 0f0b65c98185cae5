package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// connQueue is the listener that http.Server serves: the connections the
// HTTP/1.1 loop (h1.go) hands over, already past their TLS handshake.
type connQueue struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// put hands c to http.Server, or closes it once the server is gone.
func (q *connQueue) put(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		c.Close()
	}
}

// replayConn is a TLS connection handed over after the loop read part of
// it: reads start with what it buffered, so that http.Server parses the
// request again from its first byte.
type replayConn struct {
	*tls.Conn
	r     *bufio.Reader
	state *tls.ConnectionState
}

func (c *replayConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// tlsStateKey carries a replayConn's TLS state to its requests: http.Server
// sets Request.TLS only for a *tls.Conn.
type tlsStateKey struct{}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*replayConn); ok {
		return context.WithValue(ctx, tlsStateKey{}, rc.state)
	}
	return ctx
}

// withTLSState restores Request.TLS on requests that came over a replayConn.
func withTLSState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r.TLS = st
			}
		}
		next.ServeHTTP(w, r)
	})
}
