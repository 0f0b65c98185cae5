package redis

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"reachgate/lab/netns"
)

// ServerError is an error reply of Redis ("-WRONGPASS invalid username-password pair …"):
// the server answered and refused.
type ServerError string

func (e ServerError) Error() string { return string(e) }

// Code is the error reply's first word ("WRONGPASS", "NOAUTH", "ERR").
func (e ServerError) Code() string {
	code, _, _ := strings.Cut(string(e), " ")
	return code
}

// Conn is a Redis connection speaking RESP2: enough of the protocol for the lab's readiness
// check and its tests (AUTH, PING, SET, GET). It is not safe for concurrent use.
type Conn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// ClientTLS is the TLS configuration of a client that verifies an instance at ip against the
// instance's CA (PEM), as Memorystore's clients do with serverCaCerts.
func ClientTLS(caPEM []byte, ip netip.Addr) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the instance's CA is not a PEM certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: ip.String(), MinVersion: tls.VersionTLS12}, nil
}

// Dial connects to addr with dial (netns.Dialer: from a namespace), does the TLS handshake when tlsCfg is not nil, and sends
// AUTH when auth is not empty. ctx bounds the dial, the handshake and AUTH.
func Dial(ctx context.Context, dial netns.DialFunc, addr netip.AddrPort, tlsCfg *tls.Config, auth string) (*Conn, error) {
	raw, err := dial(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	c := raw
	if tlsCfg != nil {
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		c = tc
	}
	conn := &Conn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}
	if auth != "" {
		if _, err := conn.Do(ctx, "AUTH", auth); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Do sends one command and reads its reply: a string (simple or bulk), nil (a null bulk), an
// int64 or a []any. An error reply is a ServerError. Errors name the command, never its
// arguments (AUTH's is the secret).
func (c *Conn) Do(ctx context.Context, args ...string) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("no command given")
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.c.SetDeadline(dl)
	} else {
		_ = c.c.SetDeadline(time.Time{})
	}
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", args[0], err)
	}
	v, err := readReply(c.r)
	if err != nil {
		var se ServerError
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, fmt.Errorf("redis %s: %w", args[0], err)
	}
	return v, nil
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("malformed reply %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return nil, ServerError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("malformed bulk length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("malformed array length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, 0, n)
		for range n {
			v, err := readReply(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown reply type %q", kind)
}
