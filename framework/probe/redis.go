package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// RedisRequest is how to reach a Redis server (Memorystore for Redis): with in-transit
// encryption the server certificate must chain to CAPEM (the instance's serverCaCerts); Auth
// is the AUTH string, a secret that never appears in errors or results.
type RedisRequest struct {
	Addr    string // host:port
	TLS     bool
	CAPEM   []byte
	Auth    string
	Timeout time.Duration // each command's deadline (default 5 s)
}

// RedisConn is one connection speaking RESP.
type RedisConn struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// RedisError is an error reply of the server ("WRONGPASS …", "NOAUTH …"): the server answered.
type RedisError struct{ Msg string }

func (e *RedisError) Error() string { return "redis: " + e.Msg }

// DialRedis connects from d, completes the TLS handshake when asked, and sends AUTH when an
// AUTH string is given.
func DialRedis(ctx context.Context, d Dialer, r RedisRequest) (*RedisConn, error) {
	if r.Timeout == 0 {
		r.Timeout = 5 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	raw, err := d.DialContext(dctx, "tcp", r.Addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if r.TLS {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(r.CAPEM) {
			raw.Close()
			return nil, errors.New("redis: the CA bundle holds no PEM certificate")
		}
		host, _, _ := net.SplitHostPort(r.Addr)
		tc := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("redis: TLS handshake with %s: %w", r.Addr, err)
		}
		conn = tc
	}
	c := &RedisConn{conn: conn, r: bufio.NewReader(conn), timeout: r.Timeout}
	if r.Auth != "" {
		if _, err := c.Do("AUTH", r.Auth); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close closes the connection.
func (c *RedisConn) Close() error { return c.conn.Close() }

// Do sends one command and reads its reply: simple strings, integers and bulk strings as text,
// a nil bulk string as "", an error reply as *RedisError.
func (c *RedisConn) Do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write([]byte(b.String())); err != nil {
		return "", fmt.Errorf("redis %s: %w", args[0], err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("redis %s: %w", args[0], err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("redis %s: empty reply", args[0])
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", &RedisError{Msg: line[1:]}
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("redis %s: bad bulk length %q", args[0], line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", fmt.Errorf("redis %s: %w", args[0], err)
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis %s: unexpected reply %q", args[0], line)
}

// RedisPingLatency sends n PINGs over one connection (after one warm-up) and summarizes them
// like Latency does for HTTP paths; Path is "PING".
func RedisPingLatency(ctx context.Context, d Dialer, r RedisRequest, n int) (PathLatency, error) {
	c, err := DialRedis(ctx, d, r)
	if err != nil {
		return PathLatency{Path: "PING"}, err
	}
	defer c.Close()
	if _, err := c.Do("PING"); err != nil {
		return PathLatency{Path: "PING"}, err
	}
	res := PathLatency{Path: "PING", Samples: n}
	lats := make([]time.Duration, 0, n)
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		t := time.Now()
		reply, err := c.Do("PING")
		if err != nil || reply != "PONG" {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = fmt.Sprintf("PING: %q %v", reply, err)
			}
			continue
		}
		lats = append(lats, time.Since(t))
	}
	res.Elapsed = ToMs(time.Since(start))
	s := Summarize(lats)
	res.P50, res.P95, res.P99, res.Max = ToMs(s.P50), ToMs(s.P95), ToMs(s.P99), ToMs(s.Max)
	res.Histogram = Histogram(lats)
	return res, nil
}
