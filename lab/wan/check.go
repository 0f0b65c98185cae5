//go:build linux

package wan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"reachgate/lab/netns"
)

// Chain is a three-namespace test bench, A — R — B, with forwarding in R and the element's
// link being R's interface "l0" towards B. It measures what the element does to traffic
// between A and B. Its addresses never leave its namespaces.
type Chain struct {
	A, R, B string
	Link    Link
	wg      sync.WaitGroup
	closers []func() error
	udpSeen atomic.Int64
	udpLast atomic.Int64 // sequence number of the last counted datagram
	udpBack atomic.Int64 // datagrams that arrived after a later one
}

// Chain addresses.
const (
	ChainA   = "10.250.1.2"
	ChainRA  = "10.250.1.1"
	ChainRB  = "10.250.2.1" // R's address on the impaired link
	ChainB   = "10.250.2.2"
	chainTCP = 7001 // B and R accept and close
	chainUDP = 7002 // B echoes
	chainCnt = 7003 // B counts
	chainIn  = 7004 // B reads until EOF, then answers the byte count
	chainOut = 7005 // B writes until the client closes
)

// NewChain creates the namespaces prefix-a, prefix-r and prefix-b (replacing leftovers of
// an earlier run with the same prefix) and starts B's and R's servers.
func NewChain(ctx context.Context, prefix string) (*Chain, error) {
	c := &Chain{A: prefix + "-a", R: prefix + "-r", B: prefix + "-b"}
	c.Link = Link{Namespace: c.R, Interface: "l0"}
	for _, ns := range []string{c.A, c.R, c.B} {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		if _, err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	steps := []struct {
		ns    string
		lines []string
	}{
		{c.R, []string{"link set lo up",
			"link add a0 type veth peer name a0 netns " + c.A,
			"link add l0 type veth peer name l0 netns " + c.B,
			"addr add " + ChainRA + "/30 dev a0", "addr add " + ChainRB + "/30 dev l0",
			"link set a0 up", "link set l0 up"}},
		{c.A, []string{"link set lo up", "addr add " + ChainA + "/30 dev a0", "link set a0 up", "route add default via " + ChainRA}},
		{c.B, []string{"link set lo up", "addr add " + ChainB + "/30 dev l0", "link set l0 up", "route add default via " + ChainRB}},
	}
	for _, s := range steps {
		if err := ipBatch(ctx, s.ns, s.lines...); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	if err := netns.WriteSysctl(c.R, "net/ipv4/ip_forward", "1"); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	for _, srv := range []struct{ ns, addr string }{{c.B, ChainB}, {c.R, ChainRB}} {
		l, err := netns.Listen(srv.ns, "tcp", fmt.Sprintf("%s:%d", srv.addr, chainTCP))
		if err != nil {
			return nil, errors.Join(err, c.Close())
		}
		c.closers = append(c.closers, l.Close)
		c.wg.Go(func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		})
	}
	sink, err := netns.Listen(c.B, "tcp", fmt.Sprintf("%s:%d", ChainB, chainIn))
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	source, err := netns.Listen(c.B, "tcp", fmt.Sprintf("%s:%d", ChainB, chainOut))
	if err != nil {
		return nil, errors.Join(err, sink.Close(), c.Close())
	}
	c.closers = append(c.closers, sink.Close, source.Close)
	c.wg.Go(func() { serve(sink, sinkConn) })
	c.wg.Go(func() { serve(source, sourceConn) })
	var echo, count net.PacketConn
	err = netns.Do(c.B, func() (err error) {
		if echo, err = net.ListenPacket("udp", fmt.Sprintf("%s:%d", ChainB, chainUDP)); err != nil {
			return err
		}
		count, err = net.ListenPacket("udp", fmt.Sprintf("%s:%d", ChainB, chainCnt))
		return err
	})
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	c.closers = append(c.closers, echo.Close, count.Close)
	c.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteTo(buf[:n], from)
		}
	})
	c.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := count.ReadFrom(buf)
			if err != nil {
				return
			}
			c.udpSeen.Add(1)
			var seq int64
			if _, err := fmt.Sscanf(string(buf[:n]), "datagram %d", &seq); err == nil {
				if seq < c.udpLast.Load() {
					c.udpBack.Add(1)
				}
				c.udpLast.Store(seq)
			}
		}
	})
	return c, nil
}

// Close stops the servers and deletes the namespaces.
func (c *Chain) Close() error {
	var errs []error
	for _, f := range c.closers {
		_ = f()
	}
	c.wg.Wait()
	for _, ns := range []string{c.A, c.R, c.B} {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
			errs = append(errs, fmt.Errorf("delete namespace %s: %v: %s", ns, err, out))
		}
	}
	return errors.Join(errs...)
}

// RTT is a measured round trip: the median and spread of n samples.
type RTT struct {
	Median, Min, Max time.Duration
	Samples          int
}

func (r RTT) String() string {
	return fmt.Sprintf("median %v (min %v, max %v, n=%d)", r.Median.Round(10*time.Microsecond),
		r.Min.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond), r.Samples)
}

func summarize(s []time.Duration) RTT {
	slices.Sort(s)
	return RTT{Median: s[len(s)/2], Min: s[0], Max: s[len(s)-1], Samples: len(s)}
}

// TCPConnectRTT measures n TCP handshakes (SYN to SYN-ACK: one round trip) from A to B,
// or, with toRouter, from B to R's own address over the link. Each is a blocking
// connect(2) on a plain socket, so the kernel wakes the measuring thread directly and the
// figure holds no Go scheduler latency.
func (c *Chain) TCPConnectRTT(ctx context.Context, n int, toRouter bool) (RTT, error) {
	from, to := c.A, ChainB
	if toRouter {
		from, to = c.B, ChainRB
	}
	var s []time.Duration
	for range n {
		if ctx.Err() != nil {
			return RTT{}, ctx.Err()
		}
		fd, err := socketIn(from, unix.SOCK_STREAM)
		if err != nil {
			return RTT{}, err
		}
		start := time.Now()
		err = connect(fd, sockaddr(to, chainTCP))
		d := time.Since(start)
		unix.Close(fd)
		if err != nil {
			return RTT{}, fmt.Errorf("tcp connect %s:%d from %s: %w", to, chainTCP, from, err)
		}
		s = append(s, d)
	}
	return summarize(s), nil
}

// UDPEchoRTT measures n UDP echoes from A to B (blocking send and receive on a plain
// socket, as TCPConnectRTT); lost echoes are retried.
func (c *Chain) UDPEchoRTT(ctx context.Context, n int) (RTT, error) {
	fd, err := socketIn(c.A, unix.SOCK_DGRAM)
	if err != nil {
		return RTT{}, err
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sockaddr(ChainB, chainUDP)); err != nil {
		return RTT{}, fmt.Errorf("udp socket in %s: %w", c.A, err)
	}
	var s []time.Duration
	buf := make([]byte, 64)
	for i := 0; len(s) < n; i++ {
		if i > 3*n || ctx.Err() != nil {
			return RTT{}, fmt.Errorf("udp echo from %s to %s: %d of %d answered", c.A, ChainB, len(s), i)
		}
		msg := fmt.Appendf(nil, "probe %d", i)
		start := time.Now()
		if _, err := unix.Write(fd, msg); err != nil {
			return RTT{}, err
		}
		for {
			m, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				continue // a Go runtime signal, not an answer
			}
			if err != nil {
				break // lost (receive timeout); the next probe
			}
			if string(buf[:m]) == string(msg) {
				s = append(s, time.Since(start))
				break
			}
		}
	}
	return summarize(s), nil
}

// socketIn opens a blocking IPv4 socket in namespace ns with 3 s send/receive timeouts.
func socketIn(ns string, typ int) (int, error) {
	fd := -1
	err := netns.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("socket in %s: %w", ns, err)
	}
	tv := unix.NsecToTimeval(int64(time.Second))
	for _, opt := range []int{unix.SO_SNDTIMEO, unix.SO_RCVTIMEO} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// connect is a blocking connect(2) that survives the Go runtime's signals: after EINTR
// the handshake goes on in the kernel, and poll(2) waits for its end.
func connect(fd int, sa unix.Sockaddr) error {
	err := unix.Connect(fd, sa)
	if err != unix.EINTR {
		return err
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := unix.Poll(pfd, 3000)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return unix.ETIMEDOUT
		}
		soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if soErr != 0 {
			return unix.Errno(soErr)
		}
		return nil
	}
}

func sockaddr(ip string, port int) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: port, Addr: netip.MustParseAddr(ip).As4()}
}

// UDPDelivered sends n numbered datagrams from A to B (one flow), paced by gap, and
// returns how many arrived and how many of those arrived after a later one (reordered).
func (c *Chain) UDPDelivered(ctx context.Context, n int, gap time.Duration, settle time.Duration) (delivered, reordered int, err error) {
	conn, err := c.udp(ctx, chainCnt)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	c.udpLast.Store(-1)
	seen, back := c.udpSeen.Load(), c.udpBack.Load()
	for i := range n {
		if _, err := fmt.Fprintf(conn, "datagram %d", i); err != nil {
			return 0, 0, err
		}
		time.Sleep(gap)
	}
	select {
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-time.After(settle):
	}
	return int(c.udpSeen.Load() - seen), int(c.udpBack.Load() - back), nil
}

func (c *Chain) udp(ctx context.Context, port int) (net.Conn, error) {
	conn, err := netns.Dialer(c.A)(ctx, "udp", fmt.Sprintf("%s:%d", ChainB, port))
	if err != nil {
		return nil, fmt.Errorf("udp socket in %s: %w", c.A, err)
	}
	return conn, nil
}

func serve(l net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer conn.Close()
			handle(conn)
		})
	}
}

func sinkConn(conn net.Conn) {
	n, _ := io.Copy(io.Discard, conn)
	_ = binary.Write(conn, binary.BigEndian, n)
}

func sourceConn(conn net.Conn) {
	buf := make([]byte, 64*1024)
	for {
		if _, err := conn.Write(buf); err != nil {
			return
		}
	}
}

// Throughput measures a bulk TCP transfer for about d: A to B, or B to A with reverse.
// It returns bits per second as the receiver saw them.
func (c *Chain) Throughput(ctx context.Context, d time.Duration, reverse bool) (float64, error) {
	port := chainIn
	if reverse {
		port = chainOut
	}
	conn, err := netns.Dialer(c.A)(ctx, "tcp", fmt.Sprintf("%s:%d", ChainB, port))
	if err != nil {
		return 0, fmt.Errorf("bulk transfer from %s: %w", c.A, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(d + 10*time.Second))
	start := time.Now()
	if reverse {
		buf := make([]byte, 64*1024)
		var n int64
		for time.Since(start) < d {
			m, err := conn.Read(buf)
			if err != nil {
				return 0, fmt.Errorf("bulk transfer %s to %s: %w", c.B, c.A, err)
			}
			n += int64(m)
		}
		return float64(n) * 8 / time.Since(start).Seconds(), nil
	}
	buf := make([]byte, 64*1024)
	for time.Since(start) < d {
		if _, err := conn.Write(buf); err != nil {
			return 0, fmt.Errorf("bulk transfer %s to %s: %w", c.A, c.B, err)
		}
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	var n int64
	if err := binary.Read(conn, binary.BigEndian, &n); err != nil {
		return 0, fmt.Errorf("bulk transfer %s to %s: read the count: %w", c.A, c.B, err)
	}
	return float64(n) * 8 / time.Since(start).Seconds(), nil
}
