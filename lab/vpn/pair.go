package vpn

import (
	"fmt"
	"net/netip"
)

// Link is one tunnel between two gateway sides A and B, as a topology describes it.
type Link struct {
	Name      string       // tunnel name on both sides, e.g. "tunnel-0"
	Interface string       // TUN name on both sides, e.g. "vt0"
	A, B      string       // underlay address:port of each side, e.g. "10.250.0.1:51820"
	Inner     netip.Prefix // the tunnel's /30: A takes the first host address, B the second
	MTU       int          // 0: DefaultMTU
}

// Pair returns the specs of both sides of links, with a fresh key pair per tunnel end.
func Pair(nameA, nameB string, links []Link) (a, b Spec, err error) {
	a, b = Spec{Name: nameA}, Spec{Name: nameB}
	for _, l := range links {
		if !l.Inner.IsValid() || !l.Inner.Addr().Is4() || l.Inner.Bits() > 30 {
			return a, b, fmt.Errorf("link %s: inner %v must be an IPv4 /30 or shorter", l.Name, l.Inner)
		}
		ka, err := GenerateKey()
		if err != nil {
			return a, b, err
		}
		kb, err := GenerateKey()
		if err != nil {
			return a, b, err
		}
		p := l.Inner.Masked()
		ipA := p.Addr().Next()
		ipB := ipA.Next()
		a.Tunnels = append(a.Tunnels, Tunnel{Name: l.Name, Interface: l.Interface, PrivateKey: ka.Private,
			PeerPublicKey: kb.Public, Listen: l.A, PeerEndpoint: l.B,
			Address: netip.PrefixFrom(ipA, p.Bits()).String(), MTU: l.MTU})
		b.Tunnels = append(b.Tunnels, Tunnel{Name: l.Name, Interface: l.Interface, PrivateKey: kb.Private,
			PeerPublicKey: ka.Public, Listen: l.B, PeerEndpoint: l.A,
			Address: netip.PrefixFrom(ipB, p.Bits()).String(), MTU: l.MTU})
	}
	if err := a.Validate(); err != nil {
		return a, b, err
	}
	return a, b, b.Validate()
}
