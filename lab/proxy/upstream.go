package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// idleTimeoutDialer connects to the upstream with connections that fail a
// read once the upstream has been silent for timeout: nginx's
// proxy_read_timeout, which is a limit between two reads, not on a whole
// response, so a watch that sees events keeps streaming.
type idleTimeoutDialer struct {
	d       net.Dialer
	timeout time.Duration
}

func (d *idleTimeoutDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, addr)
	if err != nil || d.timeout <= 0 {
		return c, err
	}
	return &idleTimeoutConn{Conn: c, timeout: d.timeout}, nil
}

// idleTimeoutConn pushes its read deadline forward on every read and write.
// A write counts because a kept-alive connection may sit in the pool for
// long before carrying a request, and the wait for the answer starts then.
type idleTimeoutConn struct {
	net.Conn
	timeout time.Duration
	// deadline is the read deadline last set, in Unix nanoseconds; the
	// transport reads and writes from different goroutines.
	deadline atomic.Int64
}

func (c *idleTimeoutConn) extend() {
	next := time.Now().Add(c.timeout)
	// Skip the update while the deadline set last is still nearly a full
	// timeout away: under load that saves most of the timer updates.
	if next.UnixNano()-c.deadline.Load() < int64(c.timeout/64) {
		return
	}
	c.deadline.Store(next.UnixNano())
	c.Conn.SetReadDeadline(next)
}

func (c *idleTimeoutConn) Read(b []byte) (int, error) {
	c.extend()
	return c.Conn.Read(b)
}

func (c *idleTimeoutConn) Write(b []byte) (int, error) {
	c.extend()
	return c.Conn.Write(b)
}

// upConn is one kept-alive HTTP/1.1 connection to the upstream, owned by a
// single request at a time.
type upConn struct {
	tc    *tls.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	abort func() // closes tc; made once so that a request allocates no closure
	// idleSince is when the connection went back to the pool.
	idleSince time.Time
	// reused tells whether the connection carried a request before: an
	// error before any answer on it may just mean the upstream closed it
	// while it was idle.
	reused bool
}

func (c *upConn) close() { c.tc.Close() }

// upstreamPool dials the upstream (TCP, then a TLS handshake that verifies
// it) and keeps the connections whose answers were read completely. The
// most recently used connection goes out first, so that a few stay warm.
type upstreamPool struct {
	addr             string
	dialer           *idleTimeoutDialer
	tls              *tls.Config
	handshakeTimeout time.Duration
	idleTimeout      time.Duration
	maxIdle          int

	mu     sync.Mutex
	idle   []*upConn // oldest first
	closed bool
}

// get returns an idle connection, or a new one when none is left.
func (p *upstreamPool) get(ctx context.Context) (*upConn, error) {
	now := time.Now()
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.idleSince) < p.idleTimeout {
			p.mu.Unlock()
			return c, nil
		}
		c.close() // older ones are older still; they go on the next put
	}
	p.mu.Unlock()
	return p.dial(ctx)
}

func (p *upstreamPool) dial(ctx context.Context) (*upConn, error) {
	raw, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, p.tls)
	hctx, cancel := context.WithTimeout(ctx, p.handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	c := &upConn{tc: tc, br: bufio.NewReaderSize(tc, 16<<10), bw: bufio.NewWriterSize(tc, 4<<10)}
	c.abort = c.close
	return c, nil
}

// put takes back a connection ready for its next request, and drops the
// connections idle for too long.
func (p *upstreamPool) put(c *upConn) {
	now := time.Now()
	c.idleSince, c.reused = now, true
	var drop []*upConn
	p.mu.Lock()
	for len(p.idle) > 0 && now.Sub(p.idle[0].idleSince) >= p.idleTimeout {
		drop = append(drop, p.idle[0])
		p.idle = slices.Delete(p.idle, 0, 1)
	}
	if p.closed || len(p.idle) >= p.maxIdle {
		drop = append(drop, c)
	} else {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	for _, d := range drop {
		d.close()
	}
}

// closeIdle closes the idle connections and makes put close the rest.
func (p *upstreamPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}
