package wan

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// TestMain lets the test binary serve as the element's daemon (`wan.test wan --spec F`,
// the same argv as `reachgate wan --spec F`), so the integration tests need no build of
// the full reachgate binary. With REACHGATE_BIN set they use that binary instead.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "wan" && os.Args[2] == "--spec" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := Run(ctx, os.Args[3], slog.New(slog.NewTextHandler(os.Stderr, nil)))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func daemonBinary(t *testing.T) string {
	if os.Getenv("REACHGATE_BIN") != "" {
		return roottest.Self(t)
	}
	return os.Args[0]
}

// newChain builds the A — R — B bench with this test's namespace prefix and checks that
// nothing is left behind.
func newChain(t *testing.T, name string) *Chain {
	t.Helper()
	prefix := "rg-tw-" + name
	c, err := NewChain(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		names, err := netns.ListNamespaces(context.Background())
		if err != nil {
			t.Error(err)
		}
		for _, n := range names {
			if strings.HasPrefix(n, prefix+"-") {
				t.Errorf("namespace %s left behind", n)
			}
		}
	})
	return c
}

func applyT(t *testing.T, c *Chain, imp Impairment) (netns.Process, func()) {
	t.Helper()
	dir := t.TempDir()
	st := &netns.State{Name: "wan-test", Dir: dir}
	p, err := Apply(t.Context(), st, daemonBinary(t), dir, c.Link, imp)
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	remove := func() {
		if removed {
			return
		}
		removed = true
		if err := Remove(context.Background(), c.Link, p); err != nil {
			t.Errorf("remove: %v", err)
		}
		if testing.Verbose() {
			t.Logf("daemon log:\n%s", logTail(p.Log))
		}
	}
	t.Cleanup(remove)
	return p, remove
}

// TestProfilesRTT applies each profile to the R–B link and measures real TCP handshakes
// and UDP echoes from A to B, and TCP handshakes from B to R's own address (delivery to
// the router itself crosses the element too).
func TestProfilesRTT(t *testing.T) {
	roottest.Require(t)
	ctx := t.Context()
	c := newChain(t, "rtt")
	base, err := c.TCPConnectRTT(ctx, 20, false)
	if err != nil {
		t.Fatal(err)
	}
	baseLocal, err := c.TCPConnectRTT(ctx, 20, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("base (no element): tcp connect A→B %v, B→R %v", base, baseLocal)
	t.Run("none", func(t *testing.T) {
		// The element with zero delay: its own cost, which every profile's RTT includes.
		p, remove := applyT(t, c, Impairment{})
		tcp, err := c.TCPConnectRTT(ctx, 30, false)
		if err != nil {
			t.Fatal(err)
		}
		remove()
		t.Logf("element without delay: tcp connect %v (base %v)", tcp, base)
		t.Logf("daemon log:\n%s", logTail(p.Log))
		if tcp.Median > base.Median+time.Millisecond {
			t.Errorf("element overhead: rtt %v; want ≤ base %v + 1ms", tcp.Median, base.Median)
		}
	})
	for _, name := range []string{"same-metro", "cross-region", "intercontinental"} {
		t.Run(name, func(t *testing.T) {
			imp := Profiles[name]
			_, remove := applyT(t, c, imp)
			n := 50
			if imp.Delay > 50*time.Millisecond {
				n = 15
			}
			tcp, err := c.TCPConnectRTT(ctx, n, false)
			if err != nil {
				t.Fatal(err)
			}
			udp, err := c.UDPEchoRTT(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			local, err := c.TCPConnectRTT(ctx, n, true)
			if err != nil {
				t.Fatal(err)
			}
			want := imp.RTT()
			t.Logf("%s: configured rtt %v; measured tcp A→B %v; udp echo A→B %v; tcp B→R %v", name, want, tcp, udp, local)
			// What the element adds is the measured round trip less the bench's own (tens
			// of µs, more under -race), measured the same way without the element.
			for _, m := range []struct {
				what      string
				got, base time.Duration
			}{{"tcp connect A→B", tcp.Median, base.Median}, {"udp echo A→B", udp.Median, base.Median}, {"tcp connect B→R", local.Median, baseLocal.Median}} {
				if added := m.got - m.base; !within(added, want) {
					t.Errorf("%s: median rtt %v, %v more than without the element; want %v more ±%.0f%% (at least ±%v)", m.what, m.got, added, want, 100*Tolerance, Floor)
				}
			}
			remove()
			after, err := c.TCPConnectRTT(ctx, 20, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s removed: tcp connect %v", name, after)
			if after.Median > base.Median+500*time.Microsecond {
				t.Errorf("after removal rtt %v; want the base %v (+0.5ms)", after.Median, base.Median)
			}
			assertClean(t, c)
		})
	}
}

// assertClean checks that Remove left no rule, table, device or qdisc of the element.
func assertClean(t *testing.T, c *Chain) {
	t.Helper()
	rules, err := run(t.Context(), "", "ip", "-n", c.R, "rule", "show")
	if err != nil {
		t.Fatal(err)
	}
	if ownRules(rules) || !hasRule(rules, 0, "lookup local") || hasRule(rules, LocalPref, "") {
		t.Errorf("rules after removal:\n%s", rules)
	}
	links, _ := run(t.Context(), "", "ip", "-n", c.R, "link", "show")
	if strings.Contains(links, TunIn("l0")) || strings.Contains(links, TunOut("l0")) {
		t.Errorf("TUN devices left after removal:\n%s", links)
	}
	tables, _ := run(t.Context(), "", "ip", "netns", "exec", c.R, "nft", "list", "tables")
	if strings.Contains(tables, "rg_wan_") {
		t.Errorf("nft tables after removal: %s", tables)
	}
}

// TestLoss sends 2,000 datagrams one way through a 1 % loss element.
func TestLoss(t *testing.T) {
	roottest.Require(t)
	c := newChain(t, "loss")
	imp, err := Resolve("lossy-vpn", "delay=1ms", "jitter=0s")
	if err != nil {
		t.Fatal(err)
	}
	applyT(t, c, imp)
	const n = 2000
	got, _, err := c.UDPDelivered(t.Context(), n, 200*time.Microsecond, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	lost := n - got
	t.Logf("loss %g%% configured: %d of %d datagrams lost (%.2f%%)", imp.Loss, lost, n, 100*float64(lost)/n)
	// Binomial(2000, 1%): mean 20, σ 4.4; 6..40 is beyond 3σ on both sides.
	if lost < 6 || lost > 40 {
		t.Errorf("lost %d of %d; want about %d (6-40)", lost, n, n/100)
	}
}

// TestIdleCPU checks that an element with no traffic does not spin.
func TestIdleCPU(t *testing.T) {
	roottest.Require(t)
	c := newChain(t, "cpu")
	p, _ := applyT(t, c, Profiles["cross-region"])
	if _, err := c.TCPConnectRTT(t.Context(), 5, false); err != nil {
		t.Fatal(err)
	}
	before := cpuTicks(t, p.PID)
	const idle = 3 * time.Second
	time.Sleep(idle)
	used := time.Duration(cpuTicks(t, p.PID)-before) * 10 * time.Millisecond // USER_HZ is 100
	t.Logf("daemon CPU while idle: %v in %v", used, idle)
	if used > 30*time.Millisecond {
		t.Errorf("daemon used %v of CPU in %v of idle; want ≤ 30ms (1%%)", used, idle)
	}
}

func cpuTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseUint(f[11], 10, 64)
	k, _ := strconv.ParseUint(f[12], 10, 64)
	return u + k
}

// TestRateAndUpdate shapes a live element with tbf through Update, in both directions,
// then lifts the limit again, and changes the delay of the running daemon (SIGHUP).
func TestRateAndUpdate(t *testing.T) {
	roottest.Require(t)
	ctx := t.Context()
	c := newChain(t, "rate")
	dir := t.TempDir()
	st := &netns.State{Name: "wan-test", Dir: dir}
	p, err := Apply(ctx, st, daemonBinary(t), dir, c.Link, Profiles["cross-region"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Remove(context.Background(), c.Link, p); err != nil {
			t.Errorf("remove: %v", err)
		}
	})
	limited, err := Resolve("same-metro", "rate=20mbit")
	if err != nil {
		t.Fatal(err)
	}
	if err := Update(ctx, dir, c.Link, p, limited); err != nil {
		t.Fatal(err)
	}
	rtt, err := c.TCPConnectRTT(ctx, 20, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after update from cross-region to same-metro: tcp connect %v", rtt)
	if rtt.Median > 3*time.Millisecond || rtt.Median < 2*time.Millisecond {
		t.Errorf("rtt %v after the update; want about 2ms (the daemon did not take the new delay)", rtt.Median)
	}
	for _, reverse := range []bool{false, true} {
		what := "A→B (egress tbf on l0)"
		if reverse {
			what = "B→A (ingress tbf on wi-l0)"
		}
		bps, err := c.Throughput(ctx, 2*time.Second, reverse)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("rate 20mbit: %s %.1f Mbit/s", what, bps/1e6)
		if bps < 0.75*20e6 || bps > 1.1*20e6 {
			t.Errorf("%s: %.1f Mbit/s; want about 20 (15-22)", what, bps/1e6)
		}
	}
	limited.Rate = 0
	if err := Update(ctx, dir, c.Link, p, limited); err != nil {
		t.Fatal(err)
	}
	bps, err := c.Throughput(ctx, time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rate limit lifted: A→B %.1f Mbit/s", bps/1e6)
	if bps < 60e6 {
		t.Errorf("after lifting the rate limit: %.1f Mbit/s; want well above 20", bps/1e6)
	}
}

// TestJitterKeepsOrder: a flow through an element whose jitter is as large as its delay
// arrives complete and in order, while round trips do spread over delay±jitter.
func TestJitterKeepsOrder(t *testing.T) {
	roottest.Require(t)
	c := newChain(t, "jit")
	imp, err := Resolve("none", "delay=5ms", "jitter=5ms")
	if err != nil {
		t.Fatal(err)
	}
	applyT(t, c, imp)
	const n = 2000
	got, back, err := c.UDPDelivered(t.Context(), n, 100*time.Microsecond, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("delay 5ms±5ms: %d of %d datagrams arrived, %d out of order", got, n, back)
	if got != n || back != 0 {
		t.Errorf("%d of %d arrived, %d out of order; want all, in order", got, n, back)
	}
	rtt, err := c.UDPEchoRTT(t.Context(), 40)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("udp echo %v", rtt)
	if rtt.Max-rtt.Min < 4*time.Millisecond {
		t.Errorf("echo rtt spread %v-%v; want jitter to spread it by several ms", rtt.Min, rtt.Max)
	}
}

// TestNeighbours: with an element installed, the router still answers ARP, both on the
// impaired link and on its other interfaces when a later policy rule (as the lab's
// regional tables at preference 150) routes that interface's traffic through a table
// without the router's own addresses. Each neighbour's cache is flushed first, so every
// connect needs a fresh ARP reply from R.
func TestNeighbours(t *testing.T) {
	roottest.Require(t)
	c := newChain(t, "arp")
	// A regional table for what arrives on a0: a blackhole for A's own subnet and the way
	// to B, like the lab's per-region tables.
	if err := ipBatch(t.Context(), c.R,
		"route add blackhole 10.250.1.0/30 table 7700",
		"route add "+ChainB+"/32 dev l0 table 7700",
		"rule add pref 150 iif a0 lookup 7700"); err != nil {
		t.Fatal(err)
	}
	applyT(t, c, Profiles["same-metro"])
	for _, step := range []struct {
		what, flush string
		toRouter    bool
	}{
		{"B → R's address on the impaired link", c.B, true},
		{"A → B through R, A resolving its gateway under a regional rule", c.A, false},
		{"B → R again after the entry expired", c.B, true},
	} {
		if err := ipBatch(t.Context(), step.flush, "neigh flush all"); err != nil {
			t.Fatal(err)
		}
		rtt, err := c.TCPConnectRTT(t.Context(), 3, step.toRouter)
		if err != nil {
			neigh, _ := run(t.Context(), "", "ip", "-n", step.flush, "neigh", "show")
			t.Fatalf("%s: %v (neighbours of %s: %q; R's ARP reply is missing)", step.what, err, step.flush, neigh)
		}
		t.Logf("%s: %v", step.what, rtt)
	}
}
