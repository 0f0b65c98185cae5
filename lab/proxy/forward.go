package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
)

// The lean path forwards the requests that make up nearly all of the
// traffic (GET and HEAD without a body: gets, lists, watches) over the
// upstreamPool, in the handler's goroutine. http.Transport would hand each
// request to two goroutines of its own and ReverseProxy would send the
// response head and body in separate TLS records; under load, on a small
// machine, both show in the tail latency. Everything else (upgrades, bodies,
// Expect, unusual request targets) takes httputil.ReverseProxy.

// lean reports whether r can take the lean path.
func lean(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.ContentLength != 0 || r.URL.Opaque != "" || !strings.HasPrefix(r.URL.Path, "/") || !cleanQuery(r.URL.RawQuery) {
		return false
	}
	h := r.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0
}

// cleanQuery reports whether ReverseProxy would pass the query unchanged
// (it re-encodes queries with semicolons or bad escapes).
func cleanQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// forward serves r over a pooled upstream connection. Its semantics are
// ReverseProxy's with Rewrite(SetURL, SetXForwarded) and FlushInterval -1.
func (p *l7Proxy) forward(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var (
		c    *upConn
		res  *http.Response
		err  error
		stop func() bool
	)
	for {
		c, err = p.pool.get(ctx)
		if err != nil {
			p.upstreamError(w, r, err)
			return
		}
		// The client leaving ends the wait and a watch: closing the
		// connection unblocks the read.
		stop = context.AfterFunc(ctx, c.abort)
		res, err = p.roundTrip(c, r)
		if err == nil {
			break
		}
		stop()
		c.close()
		var re *retryableError
		if !errors.As(err, &re) || ctx.Err() != nil {
			p.upstreamError(w, r, err)
			return
		}
		// A kept-alive connection the upstream had closed: the request is a
		// GET or HEAD without a body, so sending it again is safe.
	}
	reusable, err := p.copyResponse(w, r, res, c.br)
	if !stop() || !reusable || err != nil {
		c.close()
	} else {
		p.pool.put(c)
	}
	if err != nil {
		// Headers are out: all that can be done is to cut the response short,
		// so that the client does not take it for complete.
		var cerr *clientError
		if ctx.Err() != nil || errors.As(err, &cerr) {
			p.log.Debug("client gone during the response", "client", r.RemoteAddr, "path", r.URL.Path, "err", err)
		} else {
			p.log.Warn("upstream response cut off", "upstream", p.upstream, "path", r.URL.Path, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// retryableError is a failure on a reused connection before any byte of
// the answer arrived.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// clientError is a failure to write to the client.
type clientError struct{ err error }

func (e *clientError) Error() string { return "write to the client: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// roundTrip sends r's head on c and reads the response head.
func (p *l7Proxy) roundTrip(c *upConn, r *http.Request) (*http.Response, error) {
	if err := writeRequestHead(c.bw, r, p.upstream); err != nil {
		return nil, err
	}
	retryable := func(err error) error {
		var ne net.Error
		if c.reused && !(errors.As(err, &ne) && ne.Timeout()) {
			return &retryableError{err}
		}
		return err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, retryable(err)
	}
	for first := true; ; first = false {
		if _, err := c.br.Peek(1); err != nil {
			if first {
				err = retryable(err)
			}
			return nil, err
		}
		res, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, err
		}
		switch {
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("the upstream switched protocols without being asked to")
		case res.StatusCode < 200:
			continue // interim answer (103 Early Hints): the final one follows
		}
		return res, nil
	}
}

// hopHeader reports whether k is a hop-by-hop header, never forwarded
// either way.
func hopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listsToken reports whether the comma-separated header values hold token,
// e.g. a Connection header naming a hop-by-hop header.
func listsToken(values []string, token string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(f), token) {
				return true
			}
		}
	}
	return false
}

// writeRequestHead writes r's request line and headers for host into bw:
// hop-by-hop headers dropped, the client's forwarding headers replaced.
func writeRequestHead(bw *bufio.Writer, r *http.Request, host string) error {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		switch k {
		case "Host", "Content-Length", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
			continue
		}
		if hopHeader(k) || len(conn) > 0 && listsToken(conn, k) {
			continue
		}
		if !validFieldName(k) {
			return fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vv {
			if !validFieldValue(v) {
				return fmt.Errorf("invalid header field value for %q", k)
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if clientIP, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(clientIP)
		bw.WriteString("\r\n")
	}
	if !validFieldValue(r.Host) {
		return errors.New("invalid Host")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\nX-Forwarded-Proto: https\r\n")
	if te := r.Header["Te"]; len(te) > 0 && listsToken(te, "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// validFieldName, validFieldValue and validHost are the checks of
// http.Server (RFC 9110 tokens, no control characters but tab, the
// characters a host may hold); they keep a header from smuggling in a line
// of its own.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		b := h[i]
		if !(isAlnum(b) || strings.IndexByte("!$%&'()*+,-.:;=[]_~", b) >= 0) {
			return false
		}
	}
	return true
}

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

func isTokenByte(b byte) bool {
	return isAlnum(b) || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// copyResponse sends res to the client, flushing as the upstream sends so
// that watches stream, and reports whether the upstream connection can carry
// another request. An error means the response was cut short.
func (p *l7Proxy) copyResponse(w http.ResponseWriter, r *http.Request, res *http.Response, br *bufio.Reader) (reusable bool, err error) {
	h := w.Header()
	conn := res.Header["Connection"]
	for k, vv := range res.Header {
		if hopHeader(k) || len(conn) > 0 && listsToken(conn, k) {
			continue
		}
		h[k] = vv
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	// Send the head at once unless body bytes are already here to go with
	// it: a watch may say nothing for minutes.
	if br.Buffered() == 0 && res.ContentLength != 0 && r.Method != http.MethodHead {
		flush(w)
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	var written int64
	for {
		n, rerr := res.Body.Read(*buf)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				return false, &clientError{werr}
			}
			written += int64(n)
			// The server flushes the end of the body when the handler returns.
			if rerr == nil && (res.ContentLength < 0 || written < res.ContentLength) {
				flush(w)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return false, rerr
		}
	}
	res.Body.Close() // fills res.Trailer
	if len(res.Trailer) > 0 {
		// Force chunking, so that the trailers can follow the body.
		flush(w)
	}
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			h[k] = vv
		}
	} else {
		for k, vv := range res.Trailer {
			for _, v := range vv {
				h.Add(http.TrailerPrefix+k, v)
			}
		}
	}
	return !res.Close, nil
}

// flush sends what w has buffered; a failure shows in the next Write.
func flush(w http.ResponseWriter) {
	switch f := w.(type) {
	case interface{ FlushError() error }:
		f.FlushError()
	case http.Flusher:
		f.Flush()
	default:
		http.NewResponseController(w).Flush()
	}
}
