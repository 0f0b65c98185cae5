package vpn

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// nonNil stands for an open device; classify only checks that there is one.
var nonNil = new(device.Device)

func TestClassify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	hs := now.Add(-30 * time.Second)
	tests := []struct {
		name string
		tn   tunnel
		want string
	}{
		{"open failed", tunnel{err: "boom"}, StatusFailed},
		{"no handshake yet", tunnel{dev: nonNil}, StatusFirstHandshake},
		{"recent packets", tunnel{dev: nonNil, handshake: hs, lastReceive: now.Add(-time.Second)}, StatusEstablished},
		{"at the limit", tunnel{dev: nonNil, handshake: hs, lastReceive: now.Add(-DeadAfter)}, StatusEstablished},
		{"silent peer", tunnel{dev: nonNil, handshake: hs, lastReceive: now.Add(-DeadAfter - time.Millisecond)}, StatusNoIncomingPackets},
		{"handshake but nothing observed", tunnel{dev: nonNil, handshake: hs}, StatusNoIncomingPackets},
		{"state unreadable", tunnel{dev: nonNil, handshake: hs, lastReceive: now, lastStatsErr: "x"}, StatusFailed},
	}
	for _, tt := range tests {
		if got, detail := classify(&tt.tn, now); got != tt.want || detail == "" {
			t.Errorf("%s: classify = %s (%q); want %s with a detail", tt.name, got, detail, tt.want)
		}
	}
}

func TestParseIpc(t *testing.T) {
	t.Parallel()
	dump := "private_key=00\nlisten_port=51820\npublic_key=11\nendpoint=10.0.0.2:51820\n" +
		"last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\ntx_bytes=1234\nrx_bytes=5678\n" +
		"persistent_keepalive_interval=1\nallowed_ip=0.0.0.0/0\n"
	st, err := parseIpc(dump, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.rx != 5678 || st.tx != 1234 || !st.handshake.Equal(time.Unix(1700000000, 5)) {
		t.Errorf("parseIpc = %+v; want rx 5678, tx 1234, handshake 1700000000.000000005", st)
	}
	st, err = parseIpc("public_key=11\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\nrx_bytes=0\n", nil)
	if err != nil || !st.handshake.IsZero() {
		t.Errorf("no handshake: %+v, %v; want a zero time", st, err)
	}
	if _, err := parseIpc("rx_bytes=many\n", nil); err == nil {
		t.Error("parseIpc accepted rx_bytes=many")
	}
	if _, err := parseIpc("", errors.New("closed")); err == nil {
		t.Error("parseIpc hid the read error")
	}
}

// TestAddrBind passes a packet between two binds on loopback, each bound to its address.
func TestAddrBind(t *testing.T) {
	t.Parallel()
	lo := netip.MustParseAddr("127.0.0.1")
	a, b := newAddrBind(lo), newAddrBind(lo)
	recvA, portA, err := a.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, portB, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, err := a.Open(0); !errors.Is(err, conn.ErrBindAlreadyOpen) {
		t.Errorf("second Open = %v; want ErrBindAlreadyOpen", err)
	}
	ep, err := b.ParseEndpoint(netip.AddrPortFrom(lo, portA).String())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send([][]byte{[]byte("hello")}, ep); err != nil {
		t.Fatal(err)
	}
	bufs, sizes, eps := [][]byte{make([]byte, 64)}, make([]int, 1), make([]conn.Endpoint, 1)
	n, err := recvA[0](bufs, sizes, eps)
	if err != nil || n != 1 || string(bufs[0][:sizes[0]]) != "hello" {
		t.Fatalf("receive = %d %q %v; want hello", n, bufs[0][:sizes[0]], err)
	}
	if got := eps[0].DstToString(); got != netip.AddrPortFrom(lo, portB).String() {
		t.Errorf("sender %s; want b's address %s", got, netip.AddrPortFrom(lo, portB))
	}
	_ = a.Close()
	if _, err := recvA[0](bufs, sizes, eps); !errors.Is(err, net.ErrClosed) {
		t.Errorf("receive after Close = %v; want net.ErrClosed", err)
	}
	if err := a.Send([][]byte{[]byte("x")}, ep); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close = %v; want net.ErrClosed", err)
	}
}
