// Package vpn runs the tunnels of one side of an HA VPN inside a network namespace as
// userspace WireGuard devices (the kernel here has no wireguard, gre or xfrm links): one
// TUN + wireguard-go device per tunnel, each with its own underlay address and port, an
// inner link-local /30 for the BGP session, and a GCP-shaped status.
package vpn

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"time"

	"reachgate/lab/internal/specfile"
)

// Lab defaults. GCP's HA VPN runs IKE with dead-peer detection in tens of seconds; the lab
// sends a WireGuard keepalive every second so a cut underlay shows within DeadAfter.
const (
	DefaultMTU       = 1420 // 1500 underlay − 80 bytes of WireGuard/UDP/IPv6 overhead
	DefaultKeepalive = 1    // seconds (WireGuard's persistent keepalive has 1 s granularity)
	// DeadAfter without a packet from the peer makes an established tunnel NO_INCOMING_PACKETS.
	DeadAfter = 3 * time.Second
)

// Spec is one VPN gateway side: every tunnel it terminates, in one namespace.
type Spec struct {
	Name    string   `json:"name"` // gateway name, e.g. "ha-vpn-gw"
	Tunnels []Tunnel `json:"tunnels"`
}

// Tunnel is one WireGuard tunnel: a TUN interface with an inner address, sending to its
// peer from one underlay address.
type Tunnel struct {
	Name      string `json:"name"`      // e.g. "tunnel-0"
	Interface string `json:"interface"` // TUN name in the namespace, e.g. "vt0"
	// PrivateKey and PeerPublicKey are base64 Curve25519 keys (see GenerateKey).
	PrivateKey    string `json:"privateKey"`
	PeerPublicKey string `json:"peerPublicKey"`
	// Listen is the underlay address:port the tunnel's UDP socket binds; the address must
	// exist in the namespace. Tunnels may share a port on different addresses.
	Listen       string `json:"listen"`
	PeerEndpoint string `json:"peerEndpoint"` // the peer's Listen, e.g. "10.250.0.2:51820"
	Address      string `json:"address"`      // inner address/prefix, e.g. "169.254.0.1/30"
	MTU          int    `json:"mtu,omitempty"`
	// Keepalive is WireGuard's persistent keepalive in seconds (default 1).
	Keepalive int `json:"keepalive,omitempty"`
}

var (
	specName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	ifName   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
)

// WithDefaults returns t with zero optional fields set.
func (t Tunnel) WithDefaults() Tunnel {
	if t.MTU == 0 {
		t.MTU = DefaultMTU
	}
	if t.Keepalive == 0 {
		t.Keepalive = DefaultKeepalive
	}
	return t
}

// Validate reports every problem of s, each naming its field (tunnels[i].field).
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !specName.MatchString(s.Name) {
		bad("name %q: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit", s.Name)
	}
	names, ifaces, listens := map[string]bool{}, map[string]bool{}, map[netip.AddrPort]bool{}
	var inner []netip.Prefix
	for i, t := range s.Tunnels {
		f := fmt.Sprintf("tunnels[%d]", i)
		if !specName.MatchString(t.Name) {
			bad("%s.name %q: use 1-63 lowercase letters, digits and '-'", f, t.Name)
		} else if names[t.Name] {
			bad("%s.name %q is used by another tunnel; names must be unique", f, t.Name)
		}
		names[t.Name] = true
		if !ifName.MatchString(t.Interface) {
			bad("%s.interface %q: use 1-15 letters, digits, '_', '.' or '-' (a Linux interface name)", f, t.Interface)
		} else if ifaces[t.Interface] {
			bad("%s.interface %q is used by another tunnel", f, t.Interface)
		}
		ifaces[t.Interface] = true
		if _, err := ParseKey(t.PrivateKey); err != nil {
			bad("%s.privateKey: %v (generate one with vpn.GenerateKey or `wg genkey`)", f, err)
		}
		if _, err := ParseKey(t.PeerPublicKey); err != nil {
			bad("%s.peerPublicKey: %v (the peer tunnel's public key)", f, err)
		} else if t.PeerPublicKey == t.PrivateKey {
			bad("%s.peerPublicKey equals privateKey; put the peer's public key here", f)
		}
		if ap, err := netip.ParseAddrPort(t.Listen); err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			bad("%s.listen %q: want an IPv4 underlay address of this namespace and a port, e.g. \"10.250.0.1:51820\"", f, t.Listen)
		} else if listens[ap] {
			bad("%s.listen %s is used by another tunnel; give each tunnel its own address or port", f, ap)
		} else {
			listens[ap] = true
		}
		if ap, err := netip.ParseAddrPort(t.PeerEndpoint); err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			bad("%s.peerEndpoint %q: want the peer's IPv4 underlay address and port, e.g. \"10.250.0.2:51820\"", f, t.PeerEndpoint)
		}
		p, err := netip.ParsePrefix(t.Address)
		switch {
		case err != nil || !p.Addr().Is4():
			bad("%s.address %q: want an inner IPv4 address with its prefix length, e.g. \"169.254.0.1/30\"", f, t.Address)
		case p.Bits() > 30:
			bad("%s.address %q: the prefix must hold both ends of the tunnel (/30 or shorter)", f, t.Address)
		case p.Masked().Addr() == p.Addr():
			bad("%s.address %q is the network address of its prefix; use a host address", f, t.Address)
		default:
			for _, q := range inner {
				if q.Overlaps(p) {
					bad("%s.address %s overlaps %s of another tunnel; each tunnel needs its own inner prefix", f, p, q)
				}
			}
			inner = append(inner, p)
		}
		if t.MTU != 0 && (t.MTU < 576 || t.MTU > 9000) {
			bad("%s.mtu %d is outside 576-9000 (omit it for %d)", f, t.MTU, DefaultMTU)
		}
		if t.Keepalive < 0 || t.Keepalive > 60 {
			bad("%s.keepalive %d is outside 1-60 seconds (omit it for %d)", f, t.Keepalive, DefaultKeepalive)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("vpn gateway %q: %w", s.Name, errors.Join(errs...))
}

// LoadSpec reads a JSON spec strictly (unknown fields are errors), validates it and applies
// the defaults. Errors name the file and, for syntax errors, the line.
func LoadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read vpn spec: %w", err)
	}
	var s Spec
	if err := specfile.DecodeJSON(data, &s); err != nil {
		return Spec{}, fmt.Errorf("vpn spec %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("vpn spec %s: %w", path, err)
	}
	for i := range s.Tunnels {
		s.Tunnels[i] = s.Tunnels[i].WithDefaults()
	}
	return s, nil
}

// WriteSpec validates s and writes it atomically as indented JSON.
func WriteSpec(path string, s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Tunnels == nil {
		s.Tunnels = []Tunnel{}
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := specfile.WriteAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write vpn spec: %w", err)
	}
	return nil
}
