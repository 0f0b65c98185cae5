package probe

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// pipeDialer hands out one end of a pipe whose other end runs serve.
type pipeDialer struct{ serve func(net.Conn) }

func (p pipeDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	c, s := net.Pipe()
	go p.serve(s)
	return c, nil
}

// The RESP client encodes commands as arrays of bulk strings and reads each reply type; an
// error reply is a *RedisError that does not carry the AUTH string.
func TestRedisConn(t *testing.T) {
	replies := map[string]string{
		"AUTH": "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
		"PING": "+PONG\r\n", "INCR": ":7\r\n", "GET": "$5\r\nhello\r\n", "MISSING": "$-1\r\n",
	}
	d := pipeDialer{serve: func(s net.Conn) {
		defer s.Close()
		r := bufio.NewReader(s)
		for {
			head, err := r.ReadString('\n')
			if err != nil {
				return
			}
			var args []string
			for n := int(head[1] - '0'); n > 0; n-- {
				_, _ = r.ReadString('\n')
				a, _ := r.ReadString('\n')
				args = append(args, strings.TrimSuffix(a, "\r\n"))
			}
			_, _ = s.Write([]byte(replies[args[0]]))
		}
	}}
	c, err := DialRedis(context.Background(), d, RedisRequest{Addr: "10.60.0.3:6379"})
	if err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string]string{"PING": "PONG", "INCR": "7", "GET": "hello", "MISSING": ""} {
		if got, err := c.Do(cmd, "k"); err != nil || got != want {
			t.Errorf("%s: %q %v; want %q", cmd, got, err, want)
		}
	}
	c.Close()
	_, err = DialRedis(context.Background(), d, RedisRequest{Addr: "10.60.0.3:6379", Auth: "s3cret-auth"})
	var re *RedisError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, "WRONGPASS") || strings.Contains(err.Error(), "s3cret-auth") {
		t.Errorf("wrong AUTH: %v; want a WRONGPASS reply without the secret", err)
	}
	if _, err := DialRedis(context.Background(), d, RedisRequest{Addr: "10.60.0.3:6378", TLS: true, CAPEM: []byte("not a PEM")}); err == nil {
		t.Error("TLS with no CA: want an error")
	}
}
