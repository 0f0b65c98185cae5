package topology

import (
	"net/netip"
	"testing"
)

func TestAddressRanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cidr, last, usable string
	}{
		{"10.128.0.0/20", "10.128.15.255", "10.128.0.2 to 10.128.15.254"},
		{"192.168.32.32/28", "192.168.32.47", "192.168.32.34 to 192.168.32.46"},
		{"10.0.0.0/30", "10.0.0.3", "10.0.0.2 to 10.0.0.2"},
		{"10.0.0.0/31", "10.0.0.1", ""},
		{"10.0.0.7/32", "10.0.0.7", ""},
		{"0.0.0.0/0", "255.255.255.255", "0.0.0.2 to 255.255.255.254"},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.cidr)
		if got := lastAddr(p).String(); got != tt.last {
			t.Errorf("lastAddr(%s) = %s; want %s", tt.cidr, got, tt.last)
		}
		if got := usable(p); got != tt.usable {
			t.Errorf("usable(%s) = %q; want %q", tt.cidr, got, tt.usable)
		}
	}
}

func TestCIDRProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"10.128.0.0/20", ""},
		{"", "is required (write a CIDR like 10.128.0.0/20)"},
		{"10.128.0.0/33", `"10.128.0.0/33" is not a valid CIDR (write it like 10.128.0.0/20)`},
		{"10.128.0.1/20", `"10.128.0.1/20" has host bits set (write 10.128.0.0/20)`},
		{"fd00::/64", `"fd00::/64" is not an IPv4 range; only IPv4 is supported (write it like 10.128.0.0/20)`},
		{"::ffff:10.0.0.0/104", `"::ffff:10.0.0.0/104" is not an IPv4 range; only IPv4 is supported (write it like 10.128.0.0/20)`},
	}
	for _, tt := range tests {
		if got := cidrProblem(tt.in); got != tt.want {
			t.Errorf("cidrProblem(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if valid := prefix(tt.in).IsValid(); valid != (tt.want == "") {
			t.Errorf("prefix(%q).IsValid() = %v; want %v", tt.in, valid, tt.want == "")
		}
	}
}

func TestPrivateASN(t *testing.T) {
	t.Parallel()
	for asn, want := range map[uint32]bool{
		64511: false, 64512: true, 64514: true, 65534: true, 65535: false,
		4199999999: false, 4200000000: true, 4294967294: true, 4294967295: false, 15169: false,
	} {
		if got := privateASN(asn); got != want {
			t.Errorf("privateASN(%d) = %v; want %v", asn, got, want)
		}
	}
}
