package proxy

import (
	"context"
	"net"
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
