package proxy

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// h1Response is the loop's http.ResponseWriter: it writes the status line,
// the headers and the body (with Content-Length when known, else chunked)
// straight into the connection's buffer, so that a small answer leaves in
// one TLS record.
type h1Response struct {
	c       *h1Conn
	req     *http.Request
	cancel  context.CancelFunc
	header  http.Header
	status  int
	sent    bool  // status line and headers are in bw
	length  int64 // declared Content-Length, or -1
	written int64
	chunked bool
	noBody  bool // HEAD, 1xx, 204, 304
	// pre holds the first bytes of a body without Content-Length, so that
	// a short one still gets a Content-Length.
	pre []byte
	// watching is set while a goroutine waits for the client to go away,
	// which only streaming answers need.
	watching bool
	watched  chan error
}

// bufferBeforeChunking is net/http's: bodies up to this size without a
// Content-Length get one.
const bufferBeforeChunking = 2 << 10

func (w *h1Response) reset(req *http.Request, cancel context.CancelFunc) {
	*w = h1Response{c: w.c, req: req, cancel: cancel, header: w.header, length: -1, pre: w.pre[:0], watched: w.watched}
	if w.header == nil {
		w.header = make(http.Header)
	}
	clear(w.header)
}

func (w *h1Response) Header() http.Header { return w.header }

// bodyAllowed reports whether the response has a body (HEAD answers, 204
// and 304 have none).
func (w *h1Response) bodyAllowed() bool {
	return w.req.Method != http.MethodHead && w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

func (w *h1Response) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return // interim answers are not forwarded; only the first final one counts
	}
	w.status = code
}

func (w *h1Response) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent && w.header.Get("Content-Length") == "" && len(w.pre)+len(b) <= bufferBeforeChunking {
		w.pre = append(w.pre, b...)
		return len(b), nil
	}
	if err := w.sendHead(); err != nil {
		return 0, err
	}
	return w.write(b)
}

func (w *h1Response) write(b []byte) (int, error) {
	switch {
	case len(b) == 0:
		return 0, nil
	case w.noBody:
		if w.req.Method == http.MethodHead {
			return len(b), nil
		}
		return 0, http.ErrBodyNotAllowed
	case w.length >= 0 && w.written+int64(len(b)) > w.length:
		return 0, http.ErrContentLength
	}
	w.written += int64(len(b))
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(b)), 16))
		bw.WriteString("\r\n")
		bw.Write(b)
		_, err := bw.WriteString("\r\n")
		return len(b), err
	}
	return bw.Write(b)
}

// FlushError sends everything written so far; http.ResponseController and
// the proxy's flush find it.
func (w *h1Response) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.sendHead(); err != nil {
		return err
	}
	if err := w.c.bw.Flush(); err != nil {
		return err
	}
	// A streaming answer may last long: notice the client leaving.
	if w.chunked && !w.watching {
		w.watch()
	}
	return nil
}

// sendHead puts the status line, the headers and the buffered start of the
// body into bw, once.
func (w *h1Response) sendHead() error {
	if w.sent {
		return nil
	}
	w.sent = true
	h := w.header
	code := w.status
	w.noBody = !w.bodyAllowed()
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			h.Del("Content-Length")
		} else {
			w.length = n
		}
	}
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
	for k, vv := range h {
		if k == "Transfer-Encoding" || k == "Connection" || strings.HasPrefix(k, http.TrailerPrefix) || !validFieldName(k) {
			continue
		}
		for _, v := range vv {
			if !validFieldValue(v) {
				continue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(time.Now().UTC().AppendFormat(make([]byte, 0, 32), http.TimeFormat))
		bw.WriteString("\r\n")
	}
	if w.length < 0 && !w.noBody {
		w.chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
	pre := w.pre
	w.pre = w.pre[:0]
	_, err := w.write(pre)
	return err
}

// finish completes the response and reports whether the connection can
// carry another request.
func (w *h1Response) finish() bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent && w.bodyAllowed() && w.header.Get("Content-Length") == "" {
		w.header.Set("Content-Length", strconv.Itoa(len(w.pre)))
	}
	if err := w.sendHead(); err != nil {
		return false
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString("0\r\n")
		w.writeTrailers()
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return false
	}
	// A body shorter than announced leaves the client waiting for the rest.
	return w.noBody || w.length < 0 || w.written == w.length
}

// writeTrailers writes the trailers the handler announced in the Trailer
// header and those it set with http.TrailerPrefix.
func (w *h1Response) writeTrailers() {
	bw := w.c.bw
	put := func(k string, vv []string) {
		if !validFieldName(k) {
			return
		}
		for _, v := range vv {
			if validFieldValue(v) {
				bw.WriteString(k)
				bw.WriteString(": ")
				bw.WriteString(v)
				bw.WriteString("\r\n")
			}
		}
	}
	for _, list := range w.header["Trailer"] {
		for k := range strings.SplitSeq(list, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			put(k, w.header[k])
		}
	}
	for k, vv := range w.header {
		if after, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			put(http.CanonicalHeaderKey(after), vv)
		}
	}
}

// watch waits in the background for the client to close the connection
// (or to send its next request early), and cancels the request when it
// closes: a watch whose client left must not hold its upstream connection.
func (w *h1Response) watch() {
	c := w.c
	if w.watched == nil {
		w.watched = make(chan error, 1)
	}
	w.watching = true
	c.deadline = time.Time{}
	c.tc.SetReadDeadline(time.Time{})
	go func() {
		_, err := c.br.Peek(1)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			w.cancel()
		}
		w.watched <- err
	}()
}

// stopWatch ends the background wait, so that the loop can read again.
func (w *h1Response) stopWatch() {
	if !w.watching {
		return
	}
	w.watching = false
	c := w.c
	c.tc.SetReadDeadline(aLongTimeAgo)
	<-w.watched
	c.deadline = time.Time{}
	c.tc.SetReadDeadline(time.Time{})
}

// aLongTimeAgo is a deadline that has passed: setting it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)
