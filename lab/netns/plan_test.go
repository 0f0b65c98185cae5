package netns

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"reachgate/framework/topology"
)

const seedFile = "../../fixtures/topologies/seed.yaml"

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"seed", true},
		{"a", true},
		{"7", true},
		{"lab-2", true},
		{"a--b", true},
		{strings.Repeat("a", 20), true},
		{strings.Repeat("a", 21), false},
		{"", false},
		{"Seed", false},
		{"SEED", false},
		{"-seed", false},
		{"seed-", false},
		{"-", false},
		{"se_ed", false},
		{"se.ed", false},
		{"se ed", false},
		{"seed/x", false},
		{"sééd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidName(tt.name)
			if (err == nil) != tt.ok {
				t.Errorf("ValidName(%q) = %v; want ok=%v", tt.name, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tt.name) {
				t.Errorf("got error %q; want it to quote the name %q", err, tt.name)
			}
		})
	}
}

func TestNamespaceName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lab, kind, obj, want string
	}{
		{"seed", "vpc", "hub", "rg-seed-vpc-hub"},
		{"seed", "h", "tp-vm", "rg-seed-h-tp-vm"},
		{"x", "vpc", "gke-master", "rg-x-vpc-gke-master"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			got := NamespaceName(tt.lab, tt.kind, tt.obj)
			if got != tt.want {
				t.Errorf("NamespaceName(%q, %q, %q) = %v; want %v", tt.lab, tt.kind, tt.obj, got, tt.want)
			}
			if !strings.HasPrefix(got, Prefix) {
				t.Errorf("got %v; want prefix %v", got, Prefix)
			}
		})
	}
}

func seedTopology(t *testing.T) *topology.Topology {
	t.Helper()
	tp, err := topology.ParseFile(seedFile)
	if err != nil {
		t.Fatalf("parse %s: %v", seedFile, err)
	}
	return tp
}

func TestNewPlanSeed(t *testing.T) {
	t.Parallel()
	tp := seedTopology(t)
	p := NewPlan("t1", tp)

	if p.Lab != "t1" {
		t.Errorf("got lab %v; want %v", p.Lab, "t1")
	}
	wantRouters := map[string]string{
		"third-party": "rg-t1-vpc-third-party",
		"hub":         "rg-t1-vpc-hub",
		"gke":         "rg-t1-vpc-gke",
		"gke-master":  "rg-t1-vpc-gke-master",
	}
	if diff := cmp.Diff(wantRouters, p.Routers); diff != "" {
		t.Errorf("routers mismatch (-want +got):\n%s", diff)
	}
	wantHosts := map[string]string{
		"tp-vm":   "rg-t1-h-tp-vm",
		"jumpbox": "rg-t1-h-jumpbox",
		"master":  "rg-t1-h-master",
		"gke-private-cluster-default-pool-a9966b2c-gq92": "rg-t1-h-gke-private-cluster-default-pool-a9966b2c-gq92",
		"gke-private-cluster-default-pool-a9966b2c-k3xv": "rg-t1-h-gke-private-cluster-default-pool-a9966b2c-k3xv",
		"gke-private-cluster-default-pool-a9966b2c-z8m2": "rg-t1-h-gke-private-cluster-default-pool-a9966b2c-z8m2",
	}
	if diff := cmp.Diff(wantHosts, p.Hosts); diff != "" {
		t.Errorf("hosts mismatch (-want +got):\n%s", diff)
	}
	wantGateways := map[string]netip.Addr{
		"third-party/tp-subnet": netip.MustParseAddr("172.31.0.1"),
		"hub/hub-subnet":        netip.MustParseAddr("10.10.0.1"),
		"gke/default":           netip.MustParseAddr("10.128.0.1"),
		"gke/jumpbox":           netip.MustParseAddr("10.156.0.1"),
		"gke-master/master":     netip.MustParseAddr("192.168.32.33"),
	}
	if diff := cmp.Diff(wantGateways, p.Gateways, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("gateways mismatch (-want +got):\n%s", diff)
	}
	// Every host's gateway exists, is in its subnet and is not the host itself.
	for _, h := range tp.Hosts {
		gw, ok := p.Gateways[h.VPC+"/"+h.Subnet]
		if !ok {
			t.Errorf("host %s: no gateway for %s/%s", h.Name, h.VPC, h.Subnet)
			continue
		}
		if gw == h.IP {
			t.Errorf("host %s: gateway %v is the host's own address", h.Name, gw)
		}
	}
}

func TestNewPlanLinks(t *testing.T) {
	t.Parallel()
	tp := seedTopology(t)
	p := NewPlan("t1", tp)
	transit := netip.MustParsePrefix("100.64.0.0/10")
	if len(tp.Links) == 0 {
		t.Fatal("seed has no links")
	}
	if len(p.LinkAddr) != len(tp.Links) || len(p.LinkIf) != len(tp.Links) {
		t.Errorf("got %d link address sets and %d interfaces; want %d each", len(p.LinkAddr), len(p.LinkIf), len(tp.Links))
	}
	ifUsed := map[string]string{}
	netUsed := map[netip.Prefix]string{}
	for _, l := range tp.Links {
		addrs := p.LinkAddr[l.Name]
		a, aok := addrs[l.A.VPC]
		b, bok := addrs[l.B.VPC]
		if !aok || !bok || len(addrs) != 2 {
			t.Errorf("link %s: got addresses %v; want one for %s and one for %s", l.Name, addrs, l.A.VPC, l.B.VPC)
			continue
		}
		if a == b {
			t.Errorf("link %s: both sides got %v; want distinct addresses", l.Name, a)
		}
		for _, x := range []netip.Addr{a, b} {
			if !transit.Contains(x) {
				t.Errorf("link %s: got %v; want an address in %v", l.Name, x, transit)
			}
		}
		pa, pb := netip.PrefixFrom(a, 30).Masked(), netip.PrefixFrom(b, 30).Masked()
		if pa != pb {
			t.Errorf("link %s: got %v and %v in /30s %v and %v; want the same /30", l.Name, a, b, pa, pb)
		}
		// Neither side may hold the /30's network or broadcast address.
		bcast := pa.Addr().As4()
		bcast[3] |= 3
		for _, x := range []netip.Addr{a, b} {
			if x == pa.Addr() || x == netip.AddrFrom4(bcast) {
				t.Errorf("link %s: got %v; want a host address of %v", l.Name, x, pa)
			}
		}
		if other, dup := netUsed[pa]; dup {
			t.Errorf("links %s and %s share transit network %v", other, l.Name, pa)
		}
		netUsed[pa] = l.Name

		ifname := p.LinkIf[l.Name]
		if ifname == "" || len(ifname) > 15 {
			t.Errorf("link %s: got interface name %q; want 1-15 characters (IFNAMSIZ)", l.Name, ifname)
		}
		if ifname == "eth0" || ifname == "lo" {
			t.Errorf("link %s: interface name %q clashes with a fixed interface", l.Name, ifname)
		}
		if other, dup := ifUsed[ifname]; dup {
			t.Errorf("links %s and %s share interface name %q", other, l.Name, ifname)
		}
		ifUsed[ifname] = l.Name
	}
}

func TestPlanNamespaces(t *testing.T) {
	t.Parallel()
	tp := seedTopology(t)
	p := NewPlan("t1", tp)
	got := p.Namespaces(tp)
	var want []string
	for _, n := range tp.Networks {
		want = append(want, NamespaceName("t1", "vpc", n.Name))
	}
	for _, h := range tp.Hosts {
		want = append(want, NamespaceName("t1", "h", h.Name))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Namespaces mismatch (-want +got):\n%s", diff)
	}
	seen := map[string]bool{}
	for _, ns := range got {
		if seen[ns] {
			t.Errorf("namespace %s listed twice", ns)
		}
		seen[ns] = true
	}
	if len(got) != 4+6 {
		t.Errorf("got %d namespaces; want %d (4 VPC routers + 6 hosts)", len(got), 10)
	}
}
