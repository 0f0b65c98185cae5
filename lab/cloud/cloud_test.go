package cloud_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/netns"
)

// newLab is the seed topology with its state in a temporary directory; nothing is provisioned.
func newLab(t *testing.T) labcloud.Lab {
	t.Helper()
	topo, err := topology.ParseFile("../../fixtures/topologies/seed.yaml")
	if err != nil {
		t.Fatalf("parse seed topology: %v", err)
	}
	return labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir()}, Topology: topo}}
}

// addrEqual lets cmp compare netip.Addr, whose fields are unexported.
var addrEqual = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func spec(name, region, subnet, addr string) cloud.AddressSpec {
	s := cloud.AddressSpec{Name: name, Region: region, Subnetwork: subnet, Purpose: "SHARED_LOADBALANCER_VIP"}
	if addr != "" {
		s.Address = netip.MustParseAddr(addr)
	}
	return s
}

func TestReserveInternalAddress(t *testing.T) {
	t.Parallel()
	first := spec("nginx-static-ilb-ip", "us-central1", "default", "10.128.0.28")
	tests := []struct {
		name    string
		spec    cloud.AddressSpec
		wantErr string // substring; empty means success
	}{
		{"same name and address again", first, ""},
		{"another name, same address", spec("other", "us-central1", "default", "10.128.0.28"), "already reserved as nginx-static-ilb-ip"},
		{"same name, other address", spec("nginx-static-ilb-ip", "us-central1", "default", "10.128.0.29"), "already exists with 10.128.0.28"},
		{"another name and address", spec("second", "us-central1", "default", "10.128.0.29"), ""},
		{"address outside the subnet", spec("outside", "us-central1", "default", "10.129.0.28"), "not inside subnetwork default"},
		{"address of another subnet", spec("jump", "us-central1", "default", "10.156.0.20"), "not inside subnetwork default"},
		{"unknown subnet", spec("x", "us-central1", "nope", "10.128.0.30"), `no subnetwork "nope" in region "us-central1"`},
		{"subnet in another region", spec("x", "europe-west3", "default", "10.128.0.30"), `no subnetwork "default" in region "europe-west3"`},
		{"address held by a node", spec("node", "us-central1", "default", "10.128.0.3"), "in use by instance gke-private-cluster-default-pool-a9966b2c-gq92"},
		{"address held by the jumpbox", spec("jb", "europe-west3", "jumpbox", "10.156.0.8"), "in use by instance jumpbox"},
	}
	// One lab, reserved in order: each case sees the reservations before it.
	c := newLab(t)
	ctx := context.Background()
	got, err := c.ReserveInternalAddress(ctx, first)
	if err != nil {
		t.Fatalf("reserve %s: %v", first.Address, err)
	}
	if got != first.Address {
		t.Errorf("reserve: got %s; want %s", got, first.Address)
	}
	for _, tt := range tests {
		got, err := c.ReserveInternalAddress(ctx, tt.spec)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: reserve %s as %s: %v", tt.name, tt.spec.Address, tt.spec.Name, err)
			} else if got != tt.spec.Address {
				t.Errorf("%s: got %s; want %s", tt.name, got, tt.spec.Address)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: reserve %s as %s: error %v; want one containing %q", tt.name, tt.spec.Address, tt.spec.Name, err, tt.wantErr)
		}
		if got.IsValid() {
			t.Errorf("%s: refused reservation returned address %s; want the zero Addr", tt.name, got)
		}
	}
	as, err := c.Addresses(ctx)
	if err != nil {
		t.Fatalf("addresses: %v", err)
	}
	want := []cloud.Address{
		{AddressSpec: first, Status: "RESERVED"},
		{AddressSpec: spec("second", "us-central1", "default", "10.128.0.29"), Status: "RESERVED"},
	}
	if diff := cmp.Diff(want, as, addrEqual); diff != "" {
		t.Errorf("addresses after the reservations (-want +got):\n%s", diff)
	}
}

func TestAddressesEmpty(t *testing.T) {
	t.Parallel()
	as, err := newLab(t).Addresses(context.Background())
	if err != nil || len(as) != 0 {
		t.Errorf("addresses of a new lab: got %v, %v; want none, nil", as, err)
	}
}

func TestReleaseAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newLab(t)
	a := spec("nginx-static-ilb-ip", "us-central1", "default", "10.128.0.28")
	b := spec("other", "us-central1", "default", "10.128.0.40")
	for _, s := range []cloud.AddressSpec{a, b} {
		if _, err := c.ReserveInternalAddress(ctx, s); err != nil {
			t.Fatalf("reserve %s: %v", s.Name, err)
		}
	}
	if err := c.ReleaseAddress(ctx, "us-central1", a.Name); err != nil {
		t.Fatalf("release %s: %v", a.Name, err)
	}
	as, err := c.Addresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]cloud.Address{{AddressSpec: b, Status: "RESERVED"}}, as, addrEqual); diff != "" {
		t.Errorf("addresses after releasing %s (-want +got):\n%s", a.Name, diff)
	}
	// Released, the address is free for another name, and the name for another address.
	c2 := spec("taker", "us-central1", "default", "10.128.0.28")
	if _, err := c.ReserveInternalAddress(ctx, c2); err != nil {
		t.Errorf("reserve the released address as %s: %v", c2.Name, err)
	}
	a2 := spec(a.Name, "us-central1", "default", "10.128.0.30")
	if _, err := c.ReserveInternalAddress(ctx, a2); err != nil {
		t.Errorf("reserve the released name %s with %s: %v", a2.Name, a2.Address, err)
	}
	// Releasing what does not exist, or in another region, is not an error and keeps the rest.
	for _, r := range [][2]string{{"us-central1", "absent"}, {"europe-west3", "other"}} {
		if err := c.ReleaseAddress(ctx, r[0], r[1]); err != nil {
			t.Errorf("release %s in %s: %v; want nil", r[1], r[0], err)
		}
	}
	as, err = c.Addresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 {
		t.Errorf("got %d addresses after releasing absent ones: %v; want 3", len(as), as)
	}
}

func TestReserveReleaseReserve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newLab(t)
	s := spec("nginx-static-ilb-ip", "us-central1", "default", "10.128.0.28")
	for i := range 3 {
		if got, err := c.ReserveInternalAddress(ctx, s); err != nil || got != s.Address {
			t.Fatalf("round %d: reserve: got %s, %v; want %s, nil", i, got, err, s.Address)
		}
		if err := c.ReleaseAddress(ctx, s.Region, s.Name); err != nil {
			t.Fatalf("round %d: release: %v", i, err)
		}
		if as, err := c.Addresses(ctx); err != nil || len(as) != 0 {
			t.Fatalf("round %d: after release got %v, %v; want none", i, as, err)
		}
	}
}

// The reservations live in the lab's state directory, so a second process sees them.
func TestReservationsPersist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newLab(t)
	s := spec("nginx-static-ilb-ip", "us-central1", "default", "10.128.0.28")
	if _, err := c.ReserveInternalAddress(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.L.State.Dir, "addresses.json")); err != nil {
		t.Errorf("addresses.json: %v", err)
	}
	other := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: c.L.State.Dir}, Topology: c.L.Topology}}
	if _, err := other.ReserveInternalAddress(ctx, spec("thief", "us-central1", "default", "10.128.0.28")); err == nil {
		t.Error("a second Lab over the same state reserved a held address; want it refused")
	}
}
