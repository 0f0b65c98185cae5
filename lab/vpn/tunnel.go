package vpn

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// tunnel is one running WireGuard device and what the daemon has observed of it.
type tunnel struct {
	spec Tunnel
	dev  *device.Device
	err  string // why the tunnel is not running (dev is nil)

	rx, tx       uint64
	handshake    time.Time
	lastReceive  time.Time // when rx last grew
	lastStatsErr string
}

// openTunnel creates the TUN interface and its WireGuard device, configures the peer,
// assigns the inner address and brings the link up. On error nothing is left behind.
func openTunnel(t Tunnel, log *slog.Logger) (_ *tunnel, err error) {
	listen := netip.MustParseAddrPort(t.Listen) // validated with the spec
	if err := checkLocalAddr(listen.Addr()); err != nil {
		return nil, fmt.Errorf("tunnel %s: listen %s: %w", t.Name, t.Listen, err)
	}
	if _, err := net.InterfaceByName(t.Interface); err == nil {
		return nil, fmt.Errorf("tunnel %s: interface %s already exists in this namespace; pick another name or delete it (ip link del %s)", t.Name, t.Interface, t.Interface)
	}
	td, err := tun.CreateTUN(t.Interface, t.MTU)
	if err != nil {
		return nil, fmt.Errorf("tunnel %s: create TUN %s: %w", t.Name, t.Interface, err)
	}
	wlog := &quietLog{log: log.With("tunnel", t.Name)}
	dev := device.NewDevice(td, newAddrBind(listen.Addr()), &device.Logger{
		Verbosef: device.DiscardLogf,
		Errorf:   wlog.errorf,
	})
	defer func() {
		if err != nil {
			dev.Close() // closing the TUN deletes the interface
		}
	}()
	cfg := fmt.Sprintf("private_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s\n"+
		"persistent_keepalive_interval=%d\nreplace_allowed_ips=true\nallowed_ip=0.0.0.0/0\n",
		hexKey(t.PrivateKey), listen.Port(), hexKey(t.PeerPublicKey), t.PeerEndpoint, t.Keepalive)
	if err := dev.IpcSet(cfg); err != nil {
		return nil, fmt.Errorf("tunnel %s: configure wireguard: %w", t.Name, err)
	}
	link, err := netlink.LinkByName(t.Interface)
	if err != nil {
		return nil, fmt.Errorf("tunnel %s: find interface %s: %w", t.Name, t.Interface, err)
	}
	addr, err := netlink.ParseAddr(t.Address)
	if err != nil {
		return nil, fmt.Errorf("tunnel %s: address %s: %w", t.Name, t.Address, err)
	}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return nil, fmt.Errorf("tunnel %s: add %s to %s: %w", t.Name, t.Address, t.Interface, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("tunnel %s: bring %s up: %w", t.Name, t.Interface, err)
	}
	if err := dev.Up(); err != nil {
		return nil, fmt.Errorf("tunnel %s: start wireguard on %s: %w", t.Name, t.Listen, err)
	}
	return &tunnel{spec: t, dev: dev}, nil
}

// close stops the device; closing its TUN removes the interface and the inner address.
func (t *tunnel) close() {
	if t.dev != nil {
		t.dev.Close()
		t.dev = nil
	}
}

// sample reads the peer's counters and handshake time from the device.
func (t *tunnel) sample(now time.Time) {
	if t.dev == nil {
		return
	}
	st, err := parseIpc(t.dev.IpcGet())
	if err != nil {
		t.lastStatsErr = err.Error()
		return
	}
	t.lastStatsErr = ""
	if st.rx > t.rx {
		t.lastReceive = now
	}
	t.rx, t.tx, t.handshake = st.rx, st.tx, st.handshake
}

type ipcStats struct {
	rx, tx    uint64
	handshake time.Time
}

// parseIpc reads the first peer's counters from wireguard-go's configuration dump.
func parseIpc(dump string, err error) (ipcStats, error) {
	var st ipcStats
	if err != nil {
		return st, fmt.Errorf("read wireguard state: %w", err)
	}
	var sec, nsec int64
	sc := bufio.NewScanner(strings.NewReader(dump))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		var perr error
		switch k {
		case "rx_bytes":
			st.rx, perr = strconv.ParseUint(v, 10, 64)
		case "tx_bytes":
			st.tx, perr = strconv.ParseUint(v, 10, 64)
		case "last_handshake_time_sec":
			sec, perr = strconv.ParseInt(v, 10, 64)
		case "last_handshake_time_nsec":
			nsec, perr = strconv.ParseInt(v, 10, 64)
		}
		if perr != nil {
			return st, fmt.Errorf("read wireguard state: %s=%q: %w", k, v, perr)
		}
	}
	if sec != 0 || nsec != 0 {
		st.handshake = time.Unix(sec, nsec)
	}
	return st, nil
}

// checkLocalAddr fails unless a is assigned to an interface of this namespace.
func checkLocalAddr(a netip.Addr) error {
	addrs, err := netlink.AddrList(nil, syscall.AF_INET)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, x := range addrs {
		if ip, ok := netip.AddrFromSlice(x.IP); ok && ip.Unmap() == a {
			return nil
		}
	}
	return errors.New("no interface of this namespace has this address; start the daemon in the namespace that owns the underlay address (ip netns exec NS …), or fix the address")
}

// quietLog logs wireguard-go's errors, each distinct message at most once per
// repeatEvery: a cut underlay otherwise logs a failed send every keepalive.
type quietLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time
}

const repeatEvery = 30 * time.Second

func (q *quietLog) errorf(format string, args ...any) {
	now := time.Now()
	q.mu.Lock()
	if q.last == nil {
		q.last = map[string]time.Time{}
	}
	seen, ok := q.last[format]
	if ok && now.Sub(seen) < repeatEvery {
		q.mu.Unlock()
		return
	}
	q.last[format] = now
	q.mu.Unlock()
	q.log.Warn("wireguard: "+fmt.Sprintf(format, args...), "repeatsSuppressedFor", repeatEvery)
}
