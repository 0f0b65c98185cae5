// Package bgp runs one Cloud-Router-like BGP speaker inside a network namespace: GoBGP in
// process, sessions over the inner addresses of VPN tunnels, locally configured prefixes
// advertised with a MED (GCP's advertisedRoutePriority), learned prefixes programmed into
// the namespace's kernel as ECMP routes, and a status shaped like GCP's GetRouterStatus.
package bgp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"

	"reachgate/lab/internal/specfile"
)

// Lab timer defaults. GCP Cloud Router uses keepalive 20 s and hold 60 s (3×) and has no
// BFD on HA VPN, so a silent tunnel loss takes up to a minute there; the lab uses the
// smallest legal hold time so a cut shows in seconds. GoBGP's own ConnectRetry default is
// 120 s, which would leave a dropped session down for minutes.
const (
	DefaultKeepalive    = 1 // seconds (GCP: 20)
	DefaultHold         = 3 // seconds (GCP: 60); RFC 4271 allows 0 or ≥ 3
	DefaultConnectRetry = 1 // seconds (GoBGP: 120)
	DefaultListenPort   = 179
	DefaultTable        = 254 // main
	// DefaultProtocol marks the routes the speaker installs ("proto bgp" in `ip route`),
	// so it can find and flush exactly its own routes.
	DefaultProtocol = 186
)

// Spec is one BGP speaker (a Cloud Router, or the third-party cloud's router).
type Spec struct {
	Name     string `json:"name"` // e.g. "cr-gke"
	ASN      uint32 `json:"asn"`  // e.g. 64514
	RouterID string `json:"routerId"`
	// ListenPort is the TCP port for incoming sessions (default 179).
	ListenPort int32 `json:"listenPort,omitempty"`
	// ListenAddresses default to every IPv4 address of the namespace.
	ListenAddresses []string        `json:"listenAddresses,omitempty"`
	Neighbors       []Neighbor      `json:"neighbors"`
	Advertise       []Advertisement `json:"advertise"`
	Kernel          Kernel          `json:"kernel,omitzero"`
}

// Neighbor is one BGP peer (GCP: a router's bgpPeers[] entry), reached over a tunnel.
type Neighbor struct {
	Name    string `json:"name"`    // e.g. "bgp-peer-0"
	Address string `json:"address"` // the peer's inner tunnel address, e.g. "169.254.0.2"
	// LocalAddress is this side's inner address; it is reported as ipAddress in the status
	// and used as the source of outgoing connections. Optional.
	LocalAddress string `json:"localAddress,omitempty"`
	PeerASN      uint32 `json:"peerAsn"`
	// Passive waits for the peer to connect. Make one side passive: a session then comes
	// back as soon as the active side retries (ConnectRetry) after its 5 s idle hold.
	Passive bool   `json:"passive,omitempty"`
	Timers  Timers `json:"timers,omitzero"`
}

// Timers in seconds; zero means the lab default.
type Timers struct {
	Keepalive    int `json:"keepalive,omitempty"`    // GCP: 20
	Hold         int `json:"hold,omitempty"`         // GCP: 60
	ConnectRetry int `json:"connectRetry,omitempty"` // GoBGP default 120
}

// Advertisement is one prefix the speaker originates (GCP: advertisedIpRanges) with its MED
// (GCP: advertisedRoutePriority, lower wins).
type Advertisement struct {
	Prefix string `json:"prefix"` // e.g. "192.168.32.32/28"
	MED    uint32 `json:"med,omitempty"`
}

// Kernel is where learned routes are installed in the speaker's namespace. The speaker owns
// every route of (Table, Protocol): it flushes them at start and stop, so run one speaker
// per pair.
type Kernel struct {
	Table    int `json:"table,omitempty"`    // default 254 (main)
	Protocol int `json:"protocol,omitempty"` // default 186 ("bgp")
}

var specName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// WithDefaults returns s with zero optional fields set to the lab defaults.
func (s Spec) WithDefaults() Spec {
	if s.ListenPort == 0 {
		s.ListenPort = DefaultListenPort
	}
	if len(s.ListenAddresses) == 0 {
		s.ListenAddresses = []string{"0.0.0.0"}
	}
	if s.Kernel.Table == 0 {
		s.Kernel.Table = DefaultTable
	}
	if s.Kernel.Protocol == 0 {
		s.Kernel.Protocol = DefaultProtocol
	}
	ns := make([]Neighbor, len(s.Neighbors))
	for i, n := range s.Neighbors {
		if n.Timers.Hold == 0 {
			n.Timers.Hold = DefaultHold
		}
		if n.Timers.Keepalive == 0 {
			n.Timers.Keepalive = max(1, min(DefaultKeepalive, n.Timers.Hold/3))
		}
		if n.Timers.ConnectRetry == 0 {
			n.Timers.ConnectRetry = DefaultConnectRetry
		}
		ns[i] = n
	}
	s.Neighbors = ns
	return s
}

// Validate reports every problem of s, each naming its field.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !specName.MatchString(s.Name) {
		bad("name %q: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit", s.Name)
	}
	if s.ASN == 0 || s.ASN == 23456 || s.ASN == 4294967295 {
		bad("asn %d is reserved; Cloud Router uses a private ASN (64512-65534 or 4200000000-4294967294)", s.ASN)
	}
	if a, err := netip.ParseAddr(s.RouterID); err != nil || !a.Is4() || a.IsUnspecified() {
		bad("routerId %q: want an IPv4 address, e.g. one of the speaker's inner addresses", s.RouterID)
	}
	if s.ListenPort < 0 || s.ListenPort > 65535 {
		bad("listenPort %d is outside 1-65535 (omit it for 179)", s.ListenPort)
	}
	for i, a := range s.ListenAddresses {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
			bad("listenAddresses[%d] %q is not an IPv4 address", i, a)
		}
	}
	names, addrs := map[string]bool{}, map[netip.Addr]bool{}
	for i, n := range s.Neighbors {
		f := fmt.Sprintf("neighbors[%d]", i)
		if !specName.MatchString(n.Name) {
			bad("%s.name %q: use 1-63 lowercase letters, digits and '-'", f, n.Name)
		} else if names[n.Name] {
			bad("%s.name %q is used by another neighbor", f, n.Name)
		}
		names[n.Name] = true
		a, err := netip.ParseAddr(n.Address)
		switch {
		case err != nil || !a.Is4():
			bad("%s.address %q: want the peer's inner IPv4 address, e.g. \"169.254.0.2\"", f, n.Address)
		case addrs[a]:
			bad("%s.address %s is used by another neighbor", f, a)
		}
		addrs[a] = true
		if n.LocalAddress != "" {
			if l, err := netip.ParseAddr(n.LocalAddress); err != nil || !l.Is4() || l == a {
				bad("%s.localAddress %q: want this side's inner IPv4 address (not the peer's)", f, n.LocalAddress)
			}
		}
		if n.PeerASN == 0 || n.PeerASN == 23456 || n.PeerASN == 4294967295 {
			bad("%s.peerAsn %d is reserved; use the peer router's ASN", f, n.PeerASN)
		}
		t := n.Timers
		switch {
		case t.Hold < 0 || t.Hold > 65535 || (t.Hold > 0 && t.Hold < 3):
			bad("%s.timers.hold %d: want 3-65535 seconds (GCP uses 60; omit it for %d)", f, t.Hold, DefaultHold)
		case t.Keepalive < 0 || (t.Keepalive > 0 && t.Keepalive > max(t.Hold, DefaultHold)/3):
			bad("%s.timers.keepalive %d: want 1 to hold/3 seconds (GCP uses 20 with hold 60)", f, t.Keepalive)
		}
		if t.ConnectRetry < 0 || t.ConnectRetry > 3600 {
			bad("%s.timers.connectRetry %d: want 1-3600 seconds (omit it for %d)", f, t.ConnectRetry, DefaultConnectRetry)
		}
	}
	prefixes := map[netip.Prefix]bool{}
	for i, a := range s.Advertise {
		p, err := netip.ParsePrefix(a.Prefix)
		switch {
		case err != nil || !p.Addr().Is4():
			bad("advertise[%d].prefix %q: want an IPv4 prefix, e.g. \"192.168.32.32/28\"", i, a.Prefix)
		case p.Masked() != p:
			bad("advertise[%d].prefix %q has host bits set; did you mean %s?", i, a.Prefix, p.Masked())
		case prefixes[p]:
			bad("advertise[%d].prefix %s is listed twice", i, p)
		}
		prefixes[p] = true
	}
	if t := s.Kernel.Table; t < 0 || t == 255 || t == 253 {
		bad("kernel.table %d: want a routing table id other than local (255) and default (253); omit it for main (254)", t)
	}
	if p := s.Kernel.Protocol; p != 0 && (p <= 4 || p > 255) {
		bad("kernel.protocol %d: want 5-255 (0-4 belong to the kernel and static routes); omit it for %d", p, DefaultProtocol)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("bgp speaker %q: %w", s.Name, errors.Join(errs...))
}

// LoadSpec reads a JSON spec strictly (unknown fields are errors), validates it and applies
// the defaults. Errors name the file and, for syntax errors, the line.
func LoadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read bgp spec: %w", err)
	}
	var s Spec
	if err := specfile.DecodeJSON(data, &s); err != nil {
		return Spec{}, fmt.Errorf("bgp spec %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("bgp spec %s: %w", path, err)
	}
	return s.WithDefaults(), nil
}

// WriteSpec validates s and writes it atomically as indented JSON.
func WriteSpec(path string, s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Neighbors == nil {
		s.Neighbors = []Neighbor{}
	}
	if s.Advertise == nil {
		s.Advertise = []Advertisement{}
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := specfile.WriteAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write bgp spec: %w", err)
	}
	return nil
}
