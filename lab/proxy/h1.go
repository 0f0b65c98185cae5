package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// The HTTP/1.1 loop serves a TLS connection's requests itself for as long
// as they can take the lean path, and hands the connection to http.Server
// (with the bytes it read, so that nothing is lost) at the first request
// that cannot, or when the client negotiated HTTP/2. For the common GET it
// spares net/http's per-request costs: the goroutine that watches the
// connection during every request, several deadline updates, a sorted
// header copy. On a small machine shared with the API server those show in
// the tail latency. Anything unusual, malformed or large goes to
// http.Server, which answers it exactly as before.

const (
	readHeaderTimeout = 30 * time.Second // for the TLS handshake and a request's head
	idleTimeout       = 90 * time.Second // between requests on a connection
	maxLeanHead       = 8 << 10          // larger request heads go to http.Server
)

// h1Loop tracks the connections the loop serves, for shutdown.
type h1Loop struct {
	p       *l7Proxy
	handler http.Handler
	tls     *tls.Config
	queue   *connQueue

	mu      sync.Mutex
	conns   map[*h1Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

type h1Conn struct {
	loop   *h1Loop
	raw    net.Conn
	tc     *tls.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string
	state  *tls.ConnectionState
	active bool // serving a request; guarded by loop.mu
	served bool // a request was served
	// deadline is the read deadline last set (zero: none); it moves only
	// when it gets close, which saves a timer update per request.
	deadline time.Time
	w        h1Response
	head     bytes.Reader // re-reads a request head for http.ReadRequest
}

// errHandOff sends the connection to http.Server.
var errHandOff = errors.New("hand the connection to http.Server")

// serveConn runs the handshake and then the loop on one accepted connection.
func (l *h1Loop) serveConn(raw net.Conn) {
	c := &h1Conn{loop: l, raw: raw}
	if !l.track(c) {
		raw.Close()
		return
	}
	defer l.wg.Done()
	c.tc = tls.Server(raw, l.tls)
	if !c.handshake() {
		l.untrack(c)
		raw.Close()
		return
	}
	if c.state.NegotiatedProtocol == "h2" {
		l.untrack(c)
		l.queue.put(c.tc)
		return
	}
	c.br = bufio.NewReaderSize(c.tc, maxLeanHead)
	c.bw = bufio.NewWriterSize(c.tc, 4<<10)
	c.w.c = c
	err := c.run()
	l.untrack(c)
	if errors.Is(err, errHandOff) {
		l.queue.put(&replayConn{Conn: c.tc, r: c.br, state: c.state})
		return
	}
	c.raw.Close()
}

// handshake is http.Server's: bounded by the header timeout, and a plain
// HTTP request gets a plain 400.
func (c *h1Conn) handshake() bool {
	c.tc.SetDeadline(time.Now().Add(readHeaderTimeout))
	err := c.tc.HandshakeContext(c.loop.p.base)
	if err != nil {
		reason := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			reason = "client sent an HTTP request to an HTTPS server"
		}
		level := slog.LevelInfo
		if errors.Is(err, io.EOF) {
			level = slog.LevelDebug // closed before saying anything: a TCP health check
		}
		c.loop.p.log.Log(c.loop.p.base, level, "TLS handshake failed", "client", c.raw.RemoteAddr().String(), "err", reason)
		return false
	}
	c.tc.SetDeadline(time.Time{})
	st := c.tc.ConnectionState()
	c.state, c.remote = &st, c.raw.RemoteAddr().String()
	return true
}

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// run serves requests until the connection ends (nil or a read error) or
// must go to http.Server (errHandOff).
func (c *h1Conn) run() error {
	for {
		head, err := c.readHead()
		if err != nil {
			return err
		}
		req, ok := c.parse(head)
		if !ok {
			return errHandOff
		}
		if !c.loop.begin(c) {
			return nil // shutting down
		}
		c.br.Discard(len(head))
		c.served = true
		keep := c.serve(req)
		if !c.loop.end(c) || !keep {
			return nil
		}
	}
}

// readHead waits for the next request and returns its head, still
// buffered in br.
func (c *h1Conn) readHead() ([]byte, error) {
	if c.served {
		c.setDeadline(idleTimeout)
	} else {
		c.setDeadline(readHeaderTimeout) // as http.Server: the first request comes soon
	}
	if _, err := c.br.Peek(1); err != nil {
		return nil, err
	}
	for timed := false; ; timed = true {
		buf, _ := c.br.Peek(c.br.Buffered())
		if n := headLen(buf); n > 0 {
			return buf[:n], nil
		}
		if len(buf) == c.br.Size() {
			return nil, errHandOff
		}
		if !timed {
			// The rest of the head must come within the header timeout.
			c.deadline = time.Now().Add(readHeaderTimeout)
			c.tc.SetReadDeadline(c.deadline)
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// setDeadline makes the read deadline about d from now.
func (c *h1Conn) setDeadline(d time.Duration) {
	now := time.Now()
	if next := now.Add(d); c.deadline.IsZero() || next.Sub(c.deadline) > d/64 || c.deadline.Sub(next) > 0 {
		c.deadline = next
		c.tc.SetReadDeadline(next)
	}
}

// headLen is the length of the request head at the start of b, up to and
// including the empty line, or 0 when it is not all there.
func headLen(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1<<10) }}

// parse reads a request head and reports whether the loop may serve it.
func (c *h1Conn) parse(head []byte) (*http.Request, bool) {
	c.head.Reset(head)
	br := headReaders.Get().(*bufio.Reader)
	br.Reset(&c.head)
	req, err := http.ReadRequest(br)
	br.Reset(nil)
	headReaders.Put(br)
	if err != nil || hostLines(head) != 1 || !leanH1(req) {
		return nil, false // http.Server answers it, malformed or not
	}
	req.RemoteAddr = c.remote
	req.TLS = c.state
	return req, true
}

// leanH1 adds to lean the checks http.Server makes of an HTTP/1.1 request
// head that http.ReadRequest does not (but one: see hostLines).
func leanH1(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Close || len(r.TransferEncoding) > 0 || r.URL.Host != "" || !lean(r) {
		return false
	}
	if r.Host == "" || !validHost(r.Host) {
		return false
	}
	// http.ReadRequest checked the values as http.Server does; names it
	// lets through unchanged when they are not tokens.
	for k := range r.Header {
		if !validFieldName(k) {
			return false
		}
	}
	return true
}

// hostLines counts the Host header lines of a request head: http.Server
// refuses a request with several, and http.ReadRequest keeps the first.
func hostLines(head []byte) int {
	n := 0
	for line := range bytes.Lines(head) {
		if len(line) > 5 && line[4] == ':' && bytes.EqualFold(line[:4], []byte("host")) {
			n++
		}
	}
	return n
}

// serve runs the handler on req and reports whether the connection can
// carry another request.
func (c *h1Conn) serve(req *http.Request) (keep bool) {
	ctx, cancel := context.WithCancel(c.loop.p.base)
	defer cancel()
	req = req.WithContext(ctx)
	w := &c.w
	w.reset(req, cancel)
	defer func() {
		w.stopWatch()
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.loop.p.log.Error("handler panicked", "client", c.remote, "panic", fmt.Sprint(v), "stack", string(buf))
			}
			keep = false
		}
	}()
	c.loop.handler.ServeHTTP(w, req)
	return w.finish()
}

// track registers a new connection unless the loop is shutting down.
func (l *h1Loop) track(c *h1Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *h1Loop) untrack(c *h1Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// begin marks c as serving a request, unless the loop is shutting down.
func (l *h1Loop) begin(c *h1Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.active = !l.closing
	return c.active
}

// end marks c idle and reports whether it may wait for another request.
func (l *h1Loop) end(c *h1Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.active = false
	return !l.closing
}

// shutdown stops the loop from taking requests and closes the idle
// connections; the others close after their response.
func (l *h1Loop) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for c := range l.conns {
		if !c.active {
			c.raw.Close()
		}
	}
}

// closeAll closes every connection, idle or not.
func (l *h1Loop) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for c := range l.conns {
		c.raw.Close()
	}
}

// wait waits until every connection has ended or ctx is done.
func (l *h1Loop) wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// accept takes connections until ln is closed; each gets its goroutine.
func (l *h1Loop) accept(ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if backoff, err = acceptBackoff(err, backoff); err != nil {
				return err
			}
			l.p.log.Warn("accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go l.serveConn(c)
	}
}
