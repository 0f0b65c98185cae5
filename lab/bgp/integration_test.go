package bgp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/framework/cloud"
	"reachgate/lab/internal/roottest"
	"reachgate/lab/vpn"
)

const (
	masterRange = "192.168.32.32/28" // side A advertises it (the GKE master CIDR)
	clientRange = "172.31.0.0/16"    // side B advertises it (the third-party VPC)
	masterHost  = "192.168.32.34"
	clientHost  = "172.31.23.209"
	hold        = DefaultHold * time.Second
)

// TestHAVPNWithBGP wires the two daemons as the HA VPN solution runs them: 4 underlay
// paths, 4 WireGuard tunnels, two speakers with 4 sessions, each side's prefix installed on
// the other as a 4-way ECMP route, and traffic between the prefixes. It cuts one path
// (the session goes DOWN within the hold time and the route keeps 3 next hops), restores
// it, changes the advertisements on SIGHUP without a session reset, cuts every path (the
// route is gone), and checks that a stopped speaker leaves no route behind.
func TestHAVPNWithBGP(t *testing.T) {
	roottest.Require(t)
	ctx := t.Context()
	const n = 4
	buildUnderlay(t, n)
	bin := roottest.Binary(t)
	dir := t.TempDir()

	vpnA, vpnB, err := vpn.Pair("gw-gcp", "gw-peer", tunnelLinks(n))
	if err != nil {
		t.Fatal(err)
	}
	bgpA := Spec{Name: "cr-gke", ASN: 64514, RouterID: "169.254.0.1",
		Advertise: []Advertisement{{Prefix: masterRange, MED: 100}}}
	bgpB := Spec{Name: "peer-router", ASN: 64512, RouterID: "169.254.0.2",
		Advertise: []Advertisement{{Prefix: clientRange}}}
	var allHops, hopsA []string // next hops seen from A (B's inner addresses) and from B
	for i := range n {
		a, b := fmt.Sprintf("169.254.%d.1", i), fmt.Sprintf("169.254.%d.2", i)
		name := fmt.Sprintf("bgp-peer-%d", i)
		// A connects, B is passive: a dropped session comes back on A's next retry.
		bgpA.Neighbors = append(bgpA.Neighbors, Neighbor{Name: name, Address: b, LocalAddress: a, PeerASN: 64512})
		bgpB.Neighbors = append(bgpB.Neighbors, Neighbor{Name: name, Address: a, LocalAddress: b, PeerASN: 64514, Passive: true})
		allHops, hopsA = append(allHops, b), append(hopsA, a)
	}
	paths := map[string]string{}
	for name, s := range map[string]any{"vpn-a": vpnA, "vpn-b": vpnB, "bgp-a": bgpA, "bgp-b": bgpB} {
		paths[name] = filepath.Join(dir, name+".json")
		switch s := s.(type) {
		case vpn.Spec:
			err = vpn.WriteSpec(paths[name], s)
		case Spec:
			err = WriteSpec(paths[name], s)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The prefixes' hosts live on lo, so traffic between them crosses the ECMP routes.
	roottest.IPBatch(t, nsA, "addr add "+masterHost+"/32 dev lo")
	roottest.IPBatch(t, nsB, "addr add "+clientHost+"/32 dev lo")
	tcpEcho(t, nsB, clientHost+":7")

	start := time.Now()
	startDaemon(t, bin, "vpn", nsB, paths["vpn-b"])
	roottest.WaitFor(t, 5*time.Second, "side B's tunnels open", func() bool { _, err := vpn.ReadStatus(paths["vpn-b"]); return err == nil })
	startDaemon(t, bin, "vpn", nsA, paths["vpn-a"])
	spkB := startDaemon(t, bin, "bgp", nsB, paths["bgp-b"])
	spkA := startDaemon(t, bin, "bgp", nsA, paths["bgp-a"])

	status := func(side string) cloud.RouterStatus {
		st, _ := ReadStatus(paths["bgp-"+side])
		return st
	}
	// converged: every named session UP on both sides and each side's route over hops.
	converged := func(up int, hops []string) func() bool {
		return func() bool {
			a, b := status("a"), status("b")
			ra, _ := a.Route(clientRange)
			rb, _ := b.Route(masterRange)
			return a.Up() == up && b.Up() == up && slices.Equal(ra.NextHops, hops) && len(rb.NextHops) == up &&
				slices.Equal(kernelHops(t, nsA, clientRange), hops) && len(kernelHops(t, nsB, masterRange)) == up
		}
	}
	roottest.WaitFor(t, 30*time.Second, "4 sessions Established and 4-way ECMP routes on both sides", converged(n, allHops))
	t.Logf("start → 4/4 Established, 4-way ECMP in both kernels: %v", time.Since(start).Round(time.Millisecond))

	a := status("a")
	for _, p := range a.BGPPeerStatus {
		if p.State != "Established" || p.NumLearnedRoutes != 1 || len(p.AdvertisedRoutes) != 1 ||
			p.AdvertisedRoutes[0].DestRange != masterRange || p.AdvertisedRoutes[0].Priority != 100 || p.IPAddress == "" {
			t.Errorf("side A peer status %+v; want Established, 1 learned, advertising only %s with priority 100", p, masterRange)
		}
	}
	// B must not pass A's prefix back (a Cloud Router advertises only its own ranges).
	for _, p := range status("b").BGPPeerStatus {
		if len(p.AdvertisedRoutes) != 1 || p.AdvertisedRoutes[0].DestRange != clientRange {
			t.Errorf("side B advertises %+v to %s; want only %s", p.AdvertisedRoutes, p.Name, clientRange)
		}
	}
	if hops := kernelHops(t, nsB, masterRange); !slices.Equal(hops, hopsA) {
		t.Errorf("side B kernel route %s via %v; want %v", masterRange, hops, hopsA)
	}
	for range 8 {
		if err := echo(ctx, nsA, masterHost, clientHost+":7", 2*time.Second); err != nil {
			t.Fatalf("TCP %s → %s over the ECMP routes: %v", masterHost, clientHost, err)
		}
	}

	// One path lost: its session drops after the hold time; 3 next hops remain.
	cut(t, 1)
	three := slices.DeleteFunc(slices.Clone(allHops), func(h string) bool { return h == "169.254.1.2" })
	detect := roottest.WaitFor(t, hold+3*time.Second, "bgp-peer-1 DOWN and 3 next hops on both sides", converged(n-1, three))
	t.Logf("cut underlay 1 → bgp-peer-1 DOWN, 3 next hops in both kernels: %v (hold %v)", detect.Round(time.Millisecond), hold)
	if detect > hold+time.Second {
		t.Errorf("cut detected after %v; want within hold time + 1s (%v)", detect, hold+time.Second)
	}
	if p, _ := status("a").Peer("bgp-peer-1"); p.Status != cloud.PeerDown || p.State == "Established" {
		t.Errorf("side A bgp-peer-1 = %+v; want DOWN", p)
	}
	for range 8 {
		if err := echo(ctx, nsA, masterHost, clientHost+":7", 2*time.Second); err != nil {
			t.Errorf("TCP over the 3 remaining paths: %v", err)
		}
	}

	restore(t, 1)
	restoredAt := time.Now()
	roottest.WaitFor(t, 30*time.Second, "4/4 again after restore", converged(n, allHops))
	t.Logf("restore underlay 1 → 4/4 Established, 4 next hops: %v", time.Since(restoredAt).Round(time.Millisecond))

	// SIGHUP: A announces one more prefix and changes the MED of the other; no session resets.
	before := status("b")
	bgpA.Advertise = []Advertisement{{Prefix: masterRange, MED: 200}, {Prefix: "10.128.0.0/20", MED: 200}}
	if err := WriteSpec(paths["bgp-a"], bgpA); err != nil {
		t.Fatal(err)
	}
	hup(t, spkA.PID)
	roottest.WaitFor(t, 5*time.Second, "side B learns 10.128.0.0/20 over 4 paths with MED 200", func() bool {
		r, ok := status("b").Route("10.128.0.0/20")
		m, _ := status("b").Route(masterRange)
		return ok && len(r.NextHops) == n && m.Priority == 200 && len(kernelHops(t, nsB, "10.128.0.0/20")) == n
	})
	after := status("b")
	for _, p := range after.BGPPeerStatus {
		old, _ := before.Peer(p.Name)
		if p.Status != cloud.PeerUp || uptimeOf(p) < uptimeOf(old) {
			t.Errorf("session %s after the reload: %s, uptime %s (was %s); want UP without a reset", p.Name, p.Status, p.UptimeSeconds, old.UptimeSeconds)
		}
	}
	bgpA.Advertise = bgpA.Advertise[:1]
	if err := WriteSpec(paths["bgp-a"], bgpA); err != nil {
		t.Fatal(err)
	}
	hup(t, spkA.PID)
	roottest.WaitFor(t, 5*time.Second, "side B drops the withdrawn 10.128.0.0/20", func() bool {
		_, ok := status("b").Route("10.128.0.0/20")
		return !ok && kernelHops(t, nsB, "10.128.0.0/20") == nil
	})
	// SIGHUP: B drops neighbor bgp-peer-3 and gets it back.
	bgpB3 := bgpB
	bgpB3.Neighbors = bgpB.Neighbors[:3]
	if err := WriteSpec(paths["bgp-b"], bgpB3); err != nil {
		t.Fatal(err)
	}
	hup(t, spkB.PID)
	roottest.WaitFor(t, hold+3*time.Second, "side A down to 3 paths after B removed bgp-peer-3", converged(3, allHops[:3]))
	if err := WriteSpec(paths["bgp-b"], bgpB); err != nil {
		t.Fatal(err)
	}
	hup(t, spkB.PID)
	readd := roottest.WaitFor(t, 30*time.Second, "4/4 again after B re-added bgp-peer-3", converged(n, allHops))
	t.Logf("neighbor re-added on SIGHUP → 4/4: %v", readd.Round(time.Millisecond))

	// Every path lost: the route is gone on both sides.
	for i := range n {
		cut(t, i)
	}
	gone := roottest.WaitFor(t, hold+3*time.Second, "routes gone with every path cut", func() bool {
		_, okA := status("a").Route(clientRange)
		_, okB := status("b").Route(masterRange)
		return status("a").Up() == 0 && !okA && !okB && kernelHops(t, nsA, clientRange) == nil && kernelHops(t, nsB, masterRange) == nil
	})
	t.Logf("cut all 4 underlays → routes gone on both sides: %v", gone.Round(time.Millisecond))
	if err := echo(ctx, nsA, masterHost, clientHost+":7", time.Second); err == nil {
		t.Error("TCP between the prefixes works with every path cut")
	}
	for i := range n {
		restore(t, i)
	}
	roottest.WaitFor(t, 30*time.Second, "4/4 again after restoring every path", converged(n, allHops))

	// A stopped speaker says Cease: the peer withdraws at once, and its own routes go.
	if err := spkB.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	w := roottest.WaitFor(t, 2*time.Second, "side A withdraws after B's speaker stopped", func() bool {
		_, ok := status("a").Route(clientRange)
		return !ok && kernelHops(t, nsA, clientRange) == nil
	})
	t.Logf("speaker B stopped (SIGTERM) → side A withdrew %s: %v after B exited", clientRange, w.Round(time.Millisecond))
	if hops := kernelHops(t, nsB, masterRange); hops != nil {
		t.Errorf("side B kept route %s via %v after its speaker stopped", masterRange, hops)
	}
	if _, err := ReadStatus(paths["bgp-b"]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadStatus after stop = %v; want os.ErrNotExist", err)
	}
	log, _ := os.ReadFile(spkB.Log)
	if !strings.Contains(string(log), "routes removed") {
		t.Errorf("speaker B did not stop cleanly; log:\n%s", log)
	}
}

func uptimeOf(p cloud.PeerStatus) int {
	var s int
	_, _ = fmt.Sscan(p.UptimeSeconds, &s)
	return s
}

func hup(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP %d: %v", pid, err)
	}
}
