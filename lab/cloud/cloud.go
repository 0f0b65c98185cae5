// Package cloud is the lab's implementation of the cloud operations solutions call, on the
// neutral types of reachgate/framework/cloud (named after the compute and container APIs).
package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"

	"reachgate/framework/cloud"
	"reachgate/lab"
	"reachgate/lab/netns"
)

// Lab is the lab's cloud. Self is the reachgate binary the lab's daemons (tunnels, BGP
// speakers) run from; Log receives progress (nil: discarded).
type Lab struct {
	L    *lab.Lab
	Self string
	Log  *slog.Logger
}

func (c Lab) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// Cluster returns the private cluster's description.
func (c Lab) Cluster(_ context.Context) (cloud.ClusterDescription, error) {
	t := c.L.Current
	if t.Cluster == nil || c.L.LoadCP() != nil || c.L.CP == nil {
		return cloud.ClusterDescription{}, errors.New("the lab's project has no cluster")
	}
	cl := t.Cluster
	region := cl.Location
	if sn := t.Network(cl.VPC).Subnet(cl.Subnet); sn != nil {
		region = sn.Region
	}
	d := cloud.ClusterDescription{Name: cl.Name, Location: cl.Location, Region: region, Network: cl.VPC, Subnetwork: cl.Subnet,
		PrivateEndpoint: cl.PrivateEndpoint, MasterCIDR: cl.MasterCIDR, PeeringName: cl.Peering, CAPEM: c.L.CP.CA.CertPEM,
		Nodes: slices.Clone(cl.Nodes)}
	if cl.PSC {
		d.PrivateEndpointSubnetwork = cl.EndpointSubnet
		if err := c.L.Refresh(); err != nil {
			return d, err
		}
		d.MasterGlobalAccess = c.L.Current.Cluster.GlobalAccess
	}
	if cl.DNS != nil {
		if err := c.L.Refresh(); err != nil {
			return d, err
		}
		d.DNSEndpoint = cl.DNS.Name
		d.DNSAllowExternalTraffic = c.L.Current.Cluster.DNS.AllowExternalTraffic
	}
	return d, nil
}

func (c Lab) addressesPath() string { return c.L.State.Path("addresses.json") }

func (c Lab) addresses() ([]cloud.Address, error) {
	data, err := os.ReadFile(c.addressesPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []cloud.Address
	return out, json.Unmarshal(data, &out)
}

func (c Lab) saveAddresses(as []cloud.Address) error {
	data, err := json.MarshalIndent(as, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.addressesPath(), data, 0o600)
}

// ReserveInternalAddress reserves an address in a subnet of the cluster's VPC. Reserving the
// same name and address again is a no-op; an address held by a host or another name is refused,
// as the compute API refuses it.
func (c Lab) ReserveInternalAddress(_ context.Context, spec cloud.AddressSpec) (netip.Addr, error) {
	if err := c.L.Refresh(); err != nil {
		return netip.Addr{}, err
	}
	t := c.L.Current
	var err error
	var out netip.Addr
	lockErr := c.L.State.Update(func(*netns.State) error {
		as, lerr := c.addresses()
		if lerr != nil {
			return lerr
		}
		var subnetFound bool
		for _, n := range t.Networks {
			sn := n.Subnet(spec.Subnetwork)
			if sn == nil || sn.Region != spec.Region {
				continue
			}
			subnetFound = true
			if !spec.Address.IsValid() || !sn.CIDR.Contains(spec.Address) {
				err = fmt.Errorf("address %s is not inside subnetwork %s (%s) in %s", spec.Address, spec.Subnetwork, sn.CIDR, spec.Region)
				return nil
			}
		}
		if !subnetFound {
			err = fmt.Errorf("no subnetwork %q in region %q", spec.Subnetwork, spec.Region)
			return nil
		}
		for _, h := range t.Hosts {
			if h.IP == spec.Address {
				err = fmt.Errorf("address %s is in use by instance %s", spec.Address, h.Name)
				return nil
			}
		}
		for _, a := range as {
			switch {
			case a.Name == spec.Name && a.Address == spec.Address:
				out = a.Address
				return nil
			case a.Name == spec.Name:
				err = fmt.Errorf("an address named %s already exists with %s", spec.Name, a.Address)
				return nil
			case a.Address == spec.Address:
				err = fmt.Errorf("address %s is already reserved as %s", spec.Address, a.Name)
				return nil
			}
		}
		as = append(as, cloud.Address{AddressSpec: spec, Status: "RESERVED"})
		out = spec.Address
		return c.saveAddresses(as)
	})
	return out, errors.Join(lockErr, err)
}

// ReleaseAddress deletes a reserved address; a missing one is not an error.
func (c Lab) ReleaseAddress(_ context.Context, region, name string) error {
	return c.L.State.Update(func(*netns.State) error {
		as, err := c.addresses()
		if err != nil {
			return err
		}
		as = slices.DeleteFunc(as, func(a cloud.Address) bool { return a.Name == name && strings.EqualFold(a.Region, region) })
		return c.saveAddresses(as)
	})
}

// Addresses lists the reserved addresses.
func (c Lab) Addresses(_ context.Context) ([]cloud.Address, error) { return c.addresses() }
