package vpn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
)

// TestTunnelsInNamespaces runs both gateway sides as daemons in two namespaces joined by four
// underlays, and checks traffic over every tunnel, GCP-like status, that a cut underlay
// stops only its own tunnel, reload on SIGHUP, and cleanup on SIGTERM.
func TestTunnelsInNamespaces(t *testing.T) {
	roottest.Require(t)
	ctx := t.Context()
	const n = 4
	buildUnderlay(t, n)
	bin := roottest.Binary(t)
	specA, specB, err := Pair("gw-a", "gw-b", links(n))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pathA, pathB := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for p, s := range map[string]Spec{pathA: specA, pathB: specB} {
		if err := WriteSpec(p, s); err != nil {
			t.Fatal(err)
		}
	}
	// B first, so A's first handshake finds B listening: a handshake sent before the peer
	// listens is retried only after WireGuard's REKEY_TIMEOUT (5 s).
	start := time.Now()
	startDaemon(t, bin, nsB, pathB)
	roottest.WaitFor(t, 5*time.Second, "side B's tunnels open", func() bool { _, err := ReadStatus(pathB); return err == nil })
	procA := startDaemon(t, bin, nsA, pathA)

	established := func(path string, want int) func() bool {
		return func() bool {
			st, err := ReadStatus(path)
			return err == nil && len(st.Tunnels) == want && st.Count(StatusEstablished) == want
		}
	}
	roottest.WaitFor(t, 10*time.Second, "4 tunnels ESTABLISHED on both sides", func() bool {
		return established(pathA, n)() && established(pathB, n)()
	})
	t.Logf("4 tunnels ESTABLISHED on both sides %v after start", time.Since(start).Round(time.Millisecond))

	for i := range n {
		tcpEcho(t, nsB, fmt.Sprintf("169.254.%d.2:7", i))
	}
	for i := range n {
		if err := echo(ctx, nsA, fmt.Sprintf("169.254.%d.2:7", i), 2*time.Second); err != nil {
			t.Errorf("TCP over tunnel-%d: %v", i, err)
		}
	}
	// Each tunnel leaves from its own underlay address (the bind is per address).
	st, _ := ReadStatus(pathA)
	for i, ts := range st.Tunnels {
		if ts.Listen != fmt.Sprintf("10.250.%d.1:51820", i) || ts.RxBytes == 0 || ts.LastHandshake.IsZero() {
			t.Errorf("status of %s = %+v; want listen 10.250.%d.1:51820, bytes received, a handshake", ts.Name, ts, i)
		}
	}

	// Cut underlay 2: only tunnel-2 goes NO_INCOMING_PACKETS and stops carrying traffic.
	cut(t, 2)
	cutAt := time.Now()
	noIncoming := func(path string) func() bool {
		return func() bool {
			st, err := ReadStatus(path)
			if err != nil || st.Count(StatusEstablished) != n-1 {
				return false
			}
			ts, _ := st.Tunnel("tunnel-2")
			return ts.Status == StatusNoIncomingPackets
		}
	}
	roottest.WaitFor(t, DeadAfter+3*time.Second, "tunnel-2 NO_INCOMING_PACKETS on side A, others ESTABLISHED", noIncoming(pathA))
	roottest.WaitFor(t, DeadAfter+3*time.Second, "tunnel-2 NO_INCOMING_PACKETS on side B, others ESTABLISHED", noIncoming(pathB))
	t.Logf("cut underlay 2 → tunnel-2 NO_INCOMING_PACKETS on both sides after %v", time.Since(cutAt).Round(time.Millisecond))
	if err := echo(ctx, nsA, "169.254.2.2:7", time.Second); !isTimeout(err) {
		t.Errorf("TCP over the cut tunnel-2: err %v; want a timeout", err)
	}
	for _, i := range []int{0, 1, 3} {
		if err := echo(ctx, nsA, fmt.Sprintf("169.254.%d.2:7", i), 2*time.Second); err != nil {
			t.Errorf("TCP over tunnel-%d with underlay 2 cut: %v", i, err)
		}
	}
	restore(t, 2)
	restoredAt := time.Now()
	roottest.WaitFor(t, 5*time.Second, "tunnel-2 ESTABLISHED again", func() bool { return established(pathA, n)() && established(pathB, n)() })
	t.Logf("restore underlay 2 → 4/4 ESTABLISHED after %v", time.Since(restoredAt).Round(time.Millisecond))
	if err := echo(ctx, nsA, "169.254.2.2:7", 2*time.Second); err != nil {
		t.Errorf("TCP over tunnel-2 after restore: %v", err)
	}

	// Reload: side A drops tunnel-3 on SIGHUP, then gets it back.
	specA3 := specA
	specA3.Tunnels = specA.Tunnels[:3]
	if err := WriteSpec(pathA, specA3); err != nil {
		t.Fatal(err)
	}
	hup(t, procA.PID)
	roottest.WaitFor(t, 3*time.Second, "vt3 removed from side A after SIGHUP", func() bool {
		st, err := ReadStatus(pathA)
		return err == nil && len(st.Tunnels) == 3 && !linkExists(nsA, "vt3")
	})
	if err := echo(ctx, nsA, "169.254.0.2:7", 2*time.Second); err != nil {
		t.Errorf("TCP over tunnel-0 after reload: %v", err)
	}
	if err := WriteSpec(pathA, specA); err != nil {
		t.Fatal(err)
	}
	hup(t, procA.PID)
	roottest.WaitFor(t, 5*time.Second, "tunnel-3 back and ESTABLISHED after SIGHUP", established(pathA, n))

	// A broken spec on SIGHUP keeps the running tunnels.
	if err := os.WriteFile(pathA, []byte(`{"name": "gw-a", "tunnels": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	hup(t, procA.PID)
	time.Sleep(1500 * time.Millisecond)
	if !procA.Running() || !established(pathA, n)() {
		t.Errorf("after a broken spec: running %v, status not 4/4 ESTABLISHED", procA.Running())
	}
	log, _ := os.ReadFile(procA.Log)
	if !strings.Contains(string(log), "reload refused") || !strings.Contains(string(log), "line 1:") {
		t.Errorf("the broken spec was not reported with its line; log:\n%s", log)
	}

	// SIGTERM: the interfaces and the status file go away.
	if err := procA.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if linkExists(nsA, fmt.Sprintf("vt%d", i)) {
			t.Errorf("vt%d left in %s after the daemon stopped", i, nsA)
		}
	}
	if _, err := ReadStatus(pathA); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadStatus after stop = %v; want os.ErrNotExist", err)
	}
	if log, _ := os.ReadFile(procA.Log); !strings.Contains(string(log), "interfaces removed") {
		t.Errorf("daemon did not stop cleanly; log:\n%s", log)
	}
}

func hup(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP %d: %v", pid, err)
	}
}

func asNetErr(err error, ne *net.Error) bool { return errors.As(err, ne) }
