package topology

import (
	"fmt"
	"net/netip"
)

// prefix parses an IPv4 CIDR in canonical form; anything else is the zero
// Prefix, which checks that need a range skip (cidrProblem explains it).
func prefix(s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p != p.Masked() {
		return netip.Prefix{}
	}
	return p
}

// cidrProblem says why s is not an IPv4 CIDR in canonical form, or "".
func cidrProblem(s string) string {
	if s == "" {
		return "is required (write a CIDR like 10.128.0.0/20)"
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a valid CIDR (write it like 10.128.0.0/20)", s)
	case !p.Addr().Is4():
		return fmt.Sprintf("%q is not an IPv4 range; only IPv4 is supported (write it like 10.128.0.0/20)", s)
	case p != p.Masked():
		return fmt.Sprintf("%q has host bits set (write %s)", s, p.Masked())
	}
	return ""
}

// address parses an IPv4 address; anything else is the zero Addr.
func address(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}
	}
	return a
}

// addrProblem says why s is not an IPv4 address, or "".
func addrProblem(s, example string) string {
	if s == "" {
		return fmt.Sprintf("is required (write an IPv4 address like %s)", example)
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a valid IP address (write it like %s)", s, example)
	case !a.Is4():
		return fmt.Sprintf("%q is not an IPv4 address; only IPv4 is supported (write it like %s)", s, example)
	}
	return ""
}

// lastAddr is the highest address of p (the broadcast address of a subnet).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	bits := p.Bits()
	for i := range 4 {
		keep := min(max(bits-8*i, 0), 8)
		b[i] |= byte(0xff >> keep)
	}
	return netip.AddrFrom4(b)
}

// usable is the range a host may take in p: after the network address and the
// gateway, before the broadcast address ("" when there is none).
func usable(p netip.Prefix) string {
	first, last := p.Addr().Next().Next(), lastAddr(p).Prev()
	if !first.IsValid() || !last.IsValid() || last.Less(first) {
		return ""
	}
	return first.String() + " to " + last.String()
}
