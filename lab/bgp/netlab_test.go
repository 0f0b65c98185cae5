package bgp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
	"reachgate/lab/vpn"
)

// The test's two routers: side A (a Cloud Router, ASN 64514, in front of the GKE master
// range) and side B (the third-party cloud's router, ASN 64512), joined by n underlay veths
// ua<i>/ub<i> (10.250.<i>.1/30 and .2/30) that carry tunnel-<i> (169.254.<i>.1/30 and .2/30).
const (
	nsA = "rg-tb-ba"
	nsB = "rg-tb-bb"
)

func buildUnderlay(t *testing.T, n int) {
	t.Helper()
	roottest.Namespaces(t, nsA, nsB)
	a, b := []string{"link set lo up"}, []string{"link set lo up"}
	for i := range n {
		a = append(a, fmt.Sprintf("link add ua%d type veth peer name ub%d netns %s", i, i, nsB),
			fmt.Sprintf("addr add 10.250.%d.1/30 dev ua%d", i, i), fmt.Sprintf("link set ua%d up", i))
		b = append(b, fmt.Sprintf("addr add 10.250.%d.2/30 dev ub%d", i, i), fmt.Sprintf("link set ub%d up", i))
	}
	roottest.IPBatch(t, nsA, a...)
	roottest.IPBatch(t, nsB, b...)
}

func tunnelLinks(n int) []vpn.Link {
	var ls []vpn.Link
	for i := range n {
		ls = append(ls, vpn.Link{Name: fmt.Sprintf("tunnel-%d", i), Interface: fmt.Sprintf("vt%d", i),
			A: fmt.Sprintf("10.250.%d.1:51820", i), B: fmt.Sprintf("10.250.%d.2:51820", i),
			Inner: netip.MustParsePrefix(fmt.Sprintf("169.254.%d.0/30", i))})
	}
	return ls
}

// cut drops everything on underlay i in nsA, silently, as a lost path does.
func cut(t *testing.T, i int) {
	t.Helper()
	rules := fmt.Sprintf(`table inet rg_cut%d {
	chain in { type filter hook input priority -10; iifname "ua%d" drop; }
	chain out { type filter hook output priority -10; oifname "ua%d" drop; }
}
`, i, i, i)
	cmd := exec.Command("ip", "netns", "exec", nsA, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cut underlay %d: %v: %s", i, err, out)
	}
}

func restore(t *testing.T, i int) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", nsA, "nft", "delete", "table", "inet", fmt.Sprintf("rg_cut%d", i)).CombinedOutput(); err != nil {
		t.Fatalf("restore underlay %d: %v: %s", i, err, out)
	}
}

// startDaemon runs `reachgate <cmd> --spec` in ns; it is stopped when the test ends.
func startDaemon(t *testing.T, bin, cmd, ns, specPath string) netns.Process {
	t.Helper()
	state := &netns.State{Name: "tbgp", Dir: filepath.Dir(specPath)}
	proc, err := state.Start(netns.StartSpec{Name: cmd + "-" + ns, Namespace: ns, Path: bin,
		Args: []string{cmd, "--spec", specPath}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = proc.Stop(context.Background(), 5*time.Second)
		if t.Failed() {
			log, _ := os.ReadFile(proc.Log)
			t.Logf("%s %s log:\n%s", cmd, ns, log)
		}
	})
	return proc
}

// kernelHops returns the next hops of the kernel route for prefix in ns (nil: no route).
func kernelHops(t *testing.T, ns, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "route", "show", "exact", prefix).Output()
	if err != nil {
		t.Fatalf("ip -n %s route show %s: %v", ns, prefix, err)
	}
	var rs []struct {
		Gateway  string `json:"gateway"`
		Protocol string `json:"protocol"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal(out, &rs); err != nil {
		t.Fatalf("ip -j route: %v: %s", err, out)
	}
	var hops []string
	for _, r := range rs {
		if r.Gateway != "" {
			hops = append(hops, r.Gateway)
		}
		for _, h := range r.Nexthops {
			hops = append(hops, h.Gateway)
		}
	}
	slices.Sort(hops)
	return hops
}

// tcpEcho serves echoes on addr in ns until the test ends.
func tcpEcho(t *testing.T, ns, addr string) {
	t.Helper()
	l, err := netns.Listen(ns, "tcp", addr)
	if err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				_, _ = c.Write(buf[:n])
			}()
		}
	}()
}

// echo connects from src in ns to addr, sends a line and checks it comes back.
func echo(ctx context.Context, ns, src, addr string, timeout time.Duration) error {
	var conn net.Conn
	err := netns.Do(ns, func() error {
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if string(buf) != "ping\n" {
		return fmt.Errorf("echo from %s: got %q", addr, buf)
	}
	return nil
}
