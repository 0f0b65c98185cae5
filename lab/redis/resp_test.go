package redis

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"reachgate/framework/pki"
)

// fakeRedis answers RESP commands on c like a redis-server with requirepass auth: AUTH,
// PING, SET, GET, and an array reply for "MULTI-REPLY".
func fakeRedis(c net.Conn, auth string) {
	defer c.Close()
	r := bufio.NewReader(c)
	store := map[string]string{}
	authed := auth == ""
	for {
		v, err := readReply(r)
		if err != nil {
			return
		}
		args, _ := v.([]any)
		if len(args) == 0 {
			return
		}
		arg := func(i int) string { s, _ := args[i].(string); return s }
		var out string
		switch cmd := strings.ToUpper(arg(0)); {
		case cmd == "AUTH":
			if arg(1) == auth {
				authed, out = true, "+OK\r\n"
			} else {
				out = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
			}
		case !authed:
			out = "-NOAUTH Authentication required.\r\n"
		case cmd == "PING":
			out = "+PONG\r\n"
		case cmd == "SET":
			store[arg(1)], out = arg(2), "+OK\r\n"
		case cmd == "GET":
			if s, ok := store[arg(1)]; ok {
				out = "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n"
			} else {
				out = "$-1\r\n"
			}
		case cmd == "MULTI-REPLY":
			out = "*3\r\n:42\r\n$2\r\nhi\r\n$-1\r\n"
		default:
			out = "-ERR unknown command\r\n"
		}
		if _, err := io.WriteString(c, out); err != nil {
			return
		}
	}
}

// pipeDialer hands out one end of a pipe whose other end serve answers.
func pipeDialer(serve func(net.Conn)) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) {
		a, b := net.Pipe()
		go serve(b)
		return a, nil
	}
}

var addr = netip.MustParseAddrPort("10.60.0.3:6378")

func TestConnAuthPingSetGet(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dial := pipeDialer(func(c net.Conn) { fakeRedis(c, "good") })
	c, err := Dial(ctx, dial, addr, nil, "good")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		args []string
		want any
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "k", "v1"}, "OK"},
		{[]string{"GET", "k"}, "v1"},
		{[]string{"GET", "missing"}, nil},
	} {
		got, err := c.Do(ctx, tc.args...)
		if err != nil || got != tc.want {
			t.Errorf("%v: got %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
	got, err := c.Do(ctx, "MULTI-REPLY")
	if arr, ok := got.([]any); err != nil || !ok || len(arr) != 3 || arr[0] != int64(42) || arr[1] != "hi" || arr[2] != nil {
		t.Errorf("array reply: got %#v, %v", got, err)
	}
	_, err = c.Do(ctx, "NOPE")
	var se ServerError
	if !errors.As(err, &se) || se.Code() != "ERR" {
		t.Errorf("unknown command: got %v; want a ServerError ERR", err)
	}
}

func TestDialWrongAuthIsServerErrorWithoutTheSecret(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dial := pipeDialer(func(c net.Conn) { fakeRedis(c, "good") })
	_, err := Dial(ctx, dial, addr, nil, "not-the-secret")
	var se ServerError
	if !errors.As(err, &se) || se.Code() != "WRONGPASS" {
		t.Fatalf("got %v; want WRONGPASS", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("the error %q shows the AUTH string sent", err)
	}
}

func TestDialTLSVerifiesAgainstTheInstanceCA(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	i := testInstance(t, true, false)
	if err := Prepare(i); err != nil {
		t.Fatal(err)
	}
	server, err := pki.LoadKeyPair(i.Dir, CertName)
	if err != nil {
		t.Fatal(err)
	}
	srvCfg := &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}}
	// A loopback listener rather than a pipe: a TLS alert must not wait for the peer to read.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fakeRedis(tls.Server(c, srvCfg), "")
		}
	}()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ln.Addr().String())
	}
	cred, err := Read(i)
	if err != nil {
		t.Fatal(err)
	}
	good, err := ClientTLS(cred.CAPEM, i.IP)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(ctx, dial, i.Addr(), good, "")
	if err != nil {
		t.Fatalf("TLS against the instance's CA: %v", err)
	}
	if v, err := c.Do(ctx, "PING"); v != "PONG" || err != nil {
		t.Errorf("PING over TLS: got %v, %v", v, err)
	}
	c.Close()
	other, err := pki.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := ClientTLS(other.CertPEM, i.IP)
	if _, err := Dial(ctx, dial, i.Addr(), bad, ""); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("TLS trusting another CA: got %v; want a failed handshake", err)
	}
	if _, err := ClientTLS([]byte("not PEM"), i.IP); err == nil {
		t.Error("ClientTLS accepted a CA that is not PEM")
	}
}
