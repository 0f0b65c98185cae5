package vpn

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// Two test namespaces joined by n veth underlays: ua<i> in nsA with 10.250.<i>.1/30 and
// ub<i> in nsB with 10.250.<i>.2/30, as the two interfaces of HA VPN gateways are joined
// by separate paths.
const (
	nsA = "rg-tb-va"
	nsB = "rg-tb-vb"
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

// links are the tunnels over buildUnderlay's paths: tunnel-i on vt<i>, inner 169.254.<i>.0/30.
func links(n int) []Link {
	var ls []Link
	for i := range n {
		ls = append(ls, Link{Name: fmt.Sprintf("tunnel-%d", i), Interface: fmt.Sprintf("vt%d", i),
			A: fmt.Sprintf("10.250.%d.1:51820", i), B: fmt.Sprintf("10.250.%d.2:51820", i),
			Inner: netip.MustParsePrefix(fmt.Sprintf("169.254.%d.0/30", i))})
	}
	return ls
}

// cut drops everything on one underlay interface of nsA, silently, as a lost path does.
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

// startDaemon runs `reachgate vpn --spec` in ns and stops it when the test ends.
func startDaemon(t *testing.T, bin, ns, specPath string) netns.Process {
	t.Helper()
	state := &netns.State{Name: "tvpn", Dir: filepath.Dir(specPath)}
	proc, err := state.Start(netns.StartSpec{Name: "vpn-" + ns, Namespace: ns, Path: bin,
		Args: []string{"vpn", "--spec", specPath}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = proc.Stop(context.Background(), 5*time.Second)
		if t.Failed() {
			log, _ := os.ReadFile(proc.Log)
			t.Logf("%s daemon log:\n%s", ns, log)
		}
	})
	return proc
}

// tcpEcho serves one-line echoes on addr in ns until the test ends.
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

// echo sends a line from ns to addr over TCP and checks it comes back.
func echo(ctx context.Context, ns, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := netns.Dialer(ns)(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := c.Read(buf); err != nil {
		return err
	}
	if string(buf) != "ping\n" {
		return fmt.Errorf("echo from %s: got %q", addr, buf)
	}
	return nil
}

func linkExists(ns, name string) bool {
	return exec.Command("ip", "-n", ns, "link", "show", name).Run() == nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && (strings.Contains(err.Error(), "timeout") || (asNetErr(err, &ne) && ne.Timeout()))
}
