package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// h1Conn opens an HTTP/1.1 TLS connection to the proxy, for requests
// written by hand.
func dialH1(t *testing.T, addr string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.proxyCA, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn, bufio.NewReader(conn)
}

// answer is a response read off the wire, body included.
type answer struct {
	Status int
	Body   string
	Close  bool
	Length int64
}

func readAnswer(t *testing.T, br *bufio.Reader, method string) answer {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return answer{res.StatusCode, string(body), res.Close, res.ContentLength}
}

const versionBody = `{"Method":"GET","Path":"/version","Authorization":"Bearer s3cr3t-token-value","XForwardedFor":"127.0.0.1"}` + "\n"

// TestH1Conversation sends requests one after the other on a single
// connection: the loop serves the plain GETs, hands the connection over at
// the first request it leaves to http.Server, which serves the rest.
func TestH1Conversation(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, logs := testLogger(t)
	addr, stop := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	conn, br := dialH1(t, addr)
	get := "GET /version HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: " + token + "\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"
	for i, tc := range []struct {
		name, request, method string
		want                  answer
	}{
		{"lean GET", get, "GET", answer{200, versionBody, false, int64(len(versionBody))}},
		{"lean GET, kept alive", get, "GET", answer{200, versionBody, false, int64(len(versionBody))}},
		{"lean HEAD", strings.Replace(get, "GET", "HEAD", 1), "HEAD", answer{200, "", false, int64(len(versionBody)) + 1}},
		{"two pipelined GETs", get + get, "GET", answer{200, versionBody, false, int64(len(versionBody))}},
		{"", "", "GET", answer{200, versionBody, false, int64(len(versionBody))}}, // the second answer
		{"bare LF line ends", strings.ReplaceAll(get, "\r\n", "\n"), "GET", answer{200, versionBody, false, int64(len(versionBody))}},
		{"POST with a body: handed over", "POST /version HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 2\r\n\r\n{}", "POST",
			answer{200, `{"Method":"POST","Path":"/version","Authorization":"","XForwardedFor":"127.0.0.1"}` + "\n", false, -1}},
		{"GET after the hand-over", get, "GET", answer{200, versionBody, false, int64(len(versionBody))}},
	} {
		if _, err := io.WriteString(conn, tc.request); err != nil {
			t.Fatalf("%d %s: %v", i, tc.name, err)
		}
		got := readAnswer(t, br, tc.method)
		if tc.want.Length < 0 {
			tc.want.Length = got.Length // net/http decides
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%d %s: (-want +got):\n%s", i, tc.name, d)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); strings.Count(out, "method=GET path=/version status=200") != 6 || strings.Contains(out, "s3cr3t") {
		t.Errorf("want 6 access lines for GET /version and no token:\n%s", out)
	}
}

// TestH1HandsOver: what the loop does not serve itself reaches http.Server
// unchanged, which answers as it always did.
func TestH1HandsOver(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, _ := testLogger(t)
	addr, _ := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	for _, tc := range []struct {
		name, request string
		wantStatus    int
		wantClose     bool
	}{
		{"no Host", "GET /version HTTP/1.1\r\n\r\n", 400, true},
		{"two Host headers", "GET /version HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, true},
		{"malformed Host", "GET /version HTTP/1.1\r\nHost: a b\r\n\r\n", 400, true},
		{"header name with a space", "GET /version HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400, true},
		{"HTTP/1.0", "GET /version HTTP/1.0\r\nHost: a\r\n\r\n", 200, true},
		{"Connection: close", "GET /version HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200, true},
		{"absolute target", "GET https://a/version HTTP/1.1\r\nHost: a\r\n\r\n", 200, false},
		{"semicolon in the query", "GET /version?a=1;b=2 HTTP/1.1\r\nHost: a\r\n\r\n", 200, false},
		{"head over 8 KiB", "GET /version HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 9<<10) + "\r\n\r\n", 200, false},
		{"unknown transfer coding", "GET /version HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, br := dialH1(t, addr)
			if _, err := io.WriteString(conn, tc.request); err != nil {
				t.Fatal(err)
			}
			got := readAnswer(t, br, "GET")
			if got.Status != tc.wantStatus || got.Close != tc.wantClose {
				t.Errorf("got %d close=%v %q; want %d close=%v", got.Status, got.Close, got.Body, tc.wantStatus, tc.wantClose)
			}
		})
	}
}

func TestH1PlainHTTP(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, logs := testLogger(t)
	addr, _ := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /version HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	out, _ := io.ReadAll(conn)
	if want := "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"; string(out) != want {
		t.Errorf("got %q; want %q", out, want)
	}
	time.Sleep(50 * time.Millisecond) // the log line follows the answer
	if !strings.Contains(logs.String(), `msg="TLS handshake failed"`) {
		t.Errorf("no handshake error logged:\n%s", logs)
	}
}

// TestForwardedHeaders: the lean path and ReverseProxy send the upstream
// the same headers: hop-by-hop ones dropped, forwarding ones replaced.
func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, _ := testLogger(t)
	addr, _ := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	for _, tc := range []struct {
		name string
		h2   bool
		body string // a body takes ReverseProxy
	}{
		{"http1 lean", false, ""},
		{"http1 ReverseProxy", false, "{}"},
		{"http2 lean", true, ""},
		{"http2 ReverseProxy", true, "{}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/headers?x=1", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body == "" {
				req.Body = http.NoBody
			}
			for k, v := range map[string]string{
				"Authorization": token, "User-Agent": "kubectl/v1.37", "Accept": "application/json", "Te": "trailers",
				"Proxy-Authorization": "Basic x", "Forwarded": "for=6.6.6.6", "X-Forwarded-For": "6.6.6.6",
				"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
			} {
				req.Header.Set(k, v)
			}
			if !tc.h2 { // HTTP/2 has no connection-specific headers
				req.Header.Set("Connection", "X-Hop")
				req.Header.Set("X-Hop", "1")
				req.Header.Set("Keep-Alive", "timeout=5")
			}
			res, err := proxyClient(t, tc.h2).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var got http.Header
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"Accept-Encoding", "Content-Length"} {
				got.Del(k) // set by the clients and transports, not by the proxy
			}
			want := http.Header{
				"Host": {upstreamAddr(up)}, "Authorization": {token}, "User-Agent": {"kubectl/v1.37"},
				"Accept": {"application/json"}, "Te": {"trailers"},
				"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {addr}, "X-Forwarded-Proto": {"https"},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("upstream saw (-want +got):\n%s", d)
			}
		})
	}
}

func TestTrailers(t *testing.T) {
	t.Parallel()
	up, _ := newUpstream(t, pki.upstream)
	log, _ := testLogger(t)
	addr, _ := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			t.Parallel()
			res, err := proxyClient(t, h2).Get("https://" + addr + "/trailers")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || string(body) != "body\n" || res.Trailer.Get("X-Checksum") != "abc" {
				t.Errorf("got %q (err %v) trailer %v; want body and X-Checksum: abc", body, err, res.Trailer)
			}
		})
	}
}

// TestH1WatchClientGone: a client leaving a watch ends the upstream
// request at once, not at the next event.
func TestH1WatchClientGone(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	up := newUpstreamWith(t, pki.upstream, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "event 1")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	}))
	log, _ := testLogger(t)
	addr, _ := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	conn, br := dialH1(t, addr)
	fmt.Fprintf(conn, "GET /watch HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, bufio.NewReader(res.Body), 5*time.Second); got != "event 1\n" {
		t.Fatalf("got %q; want event 1", got)
	}
	conn.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request still runs after the client left")
	}
}

// TestUpstreamReuse: sequential requests share one upstream connection,
// and one the upstream closed while idle is replaced without an error.
func TestUpstreamReuse(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	up := newUpstreamWith(t, pki.upstream, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), func(s *http.Server) {
		s.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				dials.Add(1)
			}
		}
		s.IdleTimeout = 300 * time.Millisecond
	})
	log, _ := testLogger(t)
	addr, _ := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	c := proxyClient(t, false)
	get := func() {
		t.Helper()
		res, err := c.Get("https://" + addr + "/version")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("got %d; want 200", res.StatusCode)
		}
	}
	for range 5 {
		get()
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("5 requests took %d upstream connections; want 1", n)
	}
	time.Sleep(time.Second) // the upstream closes the idle connection
	get()
	if n := dials.Load(); n != 2 {
		t.Errorf("got %d upstream connections; want 2", n)
	}
}

// TestH1Shutdown: an idle kept-alive connection does not hold up the
// shutdown, and a request in flight finishes.
func TestH1Shutdown(t *testing.T) {
	t.Parallel()
	up, release := newUpstream(t, pki.upstream)
	log, logs := testLogger(t)
	addr, stop := startProxy(t, "", l7Config(upstreamAddr(up)), log)
	idle, idleBR := dialH1(t, addr)
	fmt.Fprintf(idle, "GET /version HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	readAnswer(t, idleBR, "GET")
	busy, busyBR := dialH1(t, addr)
	fmt.Fprintf(busy, "GET /watch HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	res, err := http.ReadResponse(busyBR, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewReader(res.Body)
	readLine(t, body, 5*time.Second)

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if _, err := idleBR.ReadByte(); err == nil {
		t.Error("the idle connection got data; want it closed")
	}
	close(release)
	if got := readLine(t, body, 5*time.Second); got != "event 2\n" {
		t.Fatalf("got %q; want the request in flight to finish", got)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Serve did not return after the last request finished")
	}
	if out := logs.String(); strings.Contains(out, "grace period over") {
		t.Errorf("connections were forced closed:\n%s", out)
	}
}

// TestH1ShutdownGraceExpires: a watch still running when the grace period
// ends is closed, and Serve returns.
func TestH1ShutdownGraceExpires(t *testing.T) {
	t.Parallel()
	const grace = 200 * time.Millisecond
	up, _ := newUpstream(t, pki.upstream)
	log, logs := testLogger(t)
	addr, stop := startServer(t, "", l7Config(upstreamAddr(up)), log, grace)
	conn, br := dialH1(t, addr)
	fmt.Fprintf(conn, "GET /watch HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewReader(res.Body)
	readLine(t, body, 5*time.Second)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < grace || took > grace+2*time.Second {
		t.Errorf("Serve returned after %v; want about %v", took, grace)
	}
	if _, err := io.Copy(io.Discard, body); err == nil {
		t.Error("the watch ended cleanly; want it cut off")
	}
	if out := logs.String(); !strings.Contains(out, "grace period over") {
		t.Errorf("log lacks the forced close:\n%s", out)
	}
}
