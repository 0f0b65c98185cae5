package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"reachgate/framework/cloud"
	"reachgate/lab"
	"reachgate/lab/dnsserver"
)

// SetDNSEndpointExternalTraffic sets the DNS-based endpoint's allowExternalTraffic; the lab's
// front end takes or refuses user traffic from the next request.
func (c Lab) SetDNSEndpointExternalTraffic(ctx context.Context, allow bool) error {
	if cl := c.L.Current.Cluster; cl == nil || cl.DNS == nil {
		return fmt.Errorf("the cluster has no DNS-based endpoint (set cluster.dnsEndpoint.enabled in the topology)")
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		cs.DNSExternalTraffic = &allow
		return nil
	})
}

// ClusterConnectPrincipals lists who holds container.clusters.connect on the cluster.
func (c Lab) ClusterConnectPrincipals(_ context.Context) ([]string, error) {
	cs, err := c.L.LoadCloud()
	if err != nil {
		return nil, err
	}
	return slices.Clone(cs.ClusterConnect), nil
}

// GrantClusterConnect binds principal (a Kubernetes username) to container.clusters.connect.
func (c Lab) GrantClusterConnect(ctx context.Context, principal string) error {
	if principal == "" {
		return fmt.Errorf("grant cluster connect: no principal")
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		if !slices.Contains(cs.ClusterConnect, principal) {
			cs.ClusterConnect = append(cs.ClusterConnect, principal)
		}
		return nil
	})
}

// RevokeClusterConnect removes principal's binding; a principal without one is not an error.
func (c Lab) RevokeClusterConnect(ctx context.Context, principal string) error {
	return c.change(ctx, func(cs *lab.CloudState) error {
		cs.ClusterConnect = slices.DeleteFunc(cs.ClusterConnect, func(p string) bool { return p == principal })
		return nil
	})
}

// PrivateZone reads zone of vpc's resolver.
func (c Lab) PrivateZone(_ context.Context, vpc, zone string) (cloud.PrivateZone, bool, error) {
	cs, err := c.L.LoadCloud()
	if err != nil {
		return cloud.PrivateZone{}, false, err
	}
	for _, z := range cs.PrivateZones[vpc] {
		if sameName(z.Name, zone) {
			out := cloud.PrivateZone{Name: z.Name}
			for _, r := range z.Records {
				rec := cloud.DNSRecord{Name: r.Name}
				for _, a := range r.A {
					ip, err := netip.ParseAddr(a)
					if err != nil {
						return out, true, fmt.Errorf("zone %s of vpc %s: record %s: %w", zone, vpc, r.Name, err)
					}
					rec.A = append(rec.A, ip)
				}
				out.Records = append(out.Records, rec)
			}
			return out, true, nil
		}
	}
	return cloud.PrivateZone{}, false, nil
}

// SetPrivateZone creates or replaces zone z of vpc's resolver, which answers from it at once.
func (c Lab) SetPrivateZone(ctx context.Context, vpc string, z cloud.PrivateZone) error {
	if _, ok := c.L.Topology.ResolverAddr(vpc); !ok {
		return fmt.Errorf("vpc %q has no resolver in the lab (a third-party VPC has one when the cluster has a DNS-based endpoint)", vpc)
	}
	zone := dnsserver.Zone{Name: z.Name}
	for _, r := range z.Records {
		rec := dnsserver.Record{Name: r.Name}
		for _, a := range r.A {
			rec.A = append(rec.A, a.String())
		}
		zone.Records = append(zone.Records, rec)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		if cs.PrivateZones == nil {
			cs.PrivateZones = map[string][]dnsserver.Zone{}
		}
		zs := slices.DeleteFunc(cs.PrivateZones[vpc], func(o dnsserver.Zone) bool { return sameName(o.Name, z.Name) })
		cs.PrivateZones[vpc] = append(zs, zone)
		return nil
	})
}

// DeletePrivateZone removes zone of vpc's resolver; a missing zone is not an error.
func (c Lab) DeletePrivateZone(ctx context.Context, vpc, zone string) error {
	return c.change(ctx, func(cs *lab.CloudState) error {
		zs := slices.DeleteFunc(cs.PrivateZones[vpc], func(o dnsserver.Zone) bool { return sameName(o.Name, zone) })
		if len(zs) == 0 {
			delete(cs.PrivateZones, vpc)
		} else {
			cs.PrivateZones[vpc] = zs
		}
		return nil
	})
}

func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// FrontEndCA is the lab's stand-in for the public roots that Google's front end chains to.
func (c Lab) FrontEndCA(_ context.Context) ([]byte, error) {
	ca, err := c.L.GoogleAPIsCA()
	if err != nil {
		return nil, fmt.Errorf("the lab's Google API front end has no root certificate (is the cluster's DNS endpoint enabled?): %w", err)
	}
	return ca, nil
}
