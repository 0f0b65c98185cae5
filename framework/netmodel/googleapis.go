package netmodel

import (
	"fmt"
	"net/netip"

	"reachgate/framework/topology"
)

// PrivateGoogleAPIs is private.googleapis.com, the range of Google's API front end that
// Private Google Access for on-premises hosts uses; GKE's DNS-based endpoints are served there.
var PrivateGoogleAPIs = netip.MustParsePrefix("199.36.153.8/30")

// DefaultInternetGateway is the next hop of a VPC's default route.
const DefaultInternetGateway = "default-internet-gateway"

// googleAPIsRoutes is the part of a gcp VPC's default route the model follows: the route to
// private.googleapis.com. It exists only when the cluster has a DNS-based endpoint, the one
// thing the lab serves there.
// GCP: every VPC network gets a default route (0.0.0.0/0, next hop default-internet-gateway);
// Private Google Access to private.googleapis.com needs a route to 199.36.153.8/30 with that
// next hop, and such routes are never exchanged over VPC Network Peering. A Cloud Router
// announces the range only in a CUSTOM advertisement.
func googleAPIsRoutes(t *topology.Topology, n *topology.Network) []Route {
	if t.Cluster == nil || t.Cluster.DNS == nil || !n.GCP() || n.ManagedBy != "" {
		return nil
	}
	return []Route{{VPC: n.Name, Prefix: PrivateGoogleAPIs, Type: Static, Origin: n.Name,
		Priority: 1000, Gateway: DefaultInternetGateway,
		Note: "default route to the default internet gateway: private.googleapis.com, Google's API front end"}}
}

// DNSEndpointState is what decides a DNS-based endpoint besides routing: state of the
// clouds, not of the topology.
type DNSEndpointState struct {
	// Mapped: the client's resolver maps the endpoint's name into PrivateGoogleAPIs.
	Mapped bool
	// AllowExternalTraffic is dnsEndpointConfig.allowExternalTraffic.
	AllowExternalTraffic bool
}

// DNSEndpointVerdict is whether a client reaches the cluster's DNS-based endpoint, and why not.
type DNSEndpointVerdict struct {
	Reachable bool
	Name      string
	Trace     Trace // the walk to and from private.googleapis.com
	Reason    string
}

// ExplainDNSEndpoint judges src's path to the cluster's DNS-based endpoint: the name must
// resolve into private.googleapis.com, the range must be routed there and back, and the front
// end must take user traffic. Who may use it is the front end's IAM check, per request.
func (m *Model) ExplainDNSEndpoint(src netip.Addr, st DNSEndpointState) DNSEndpointVerdict {
	c := m.topo.Cluster
	if c == nil || c.DNS == nil {
		return DNSEndpointVerdict{Reason: "the cluster has no DNS-based endpoint (set cluster.dnsEndpoint.enabled)"}
	}
	v := DNSEndpointVerdict{Name: c.DNS.Name}
	from, ok := m.locate(src)
	if !ok {
		v.Reason = fmt.Sprintf("%s is neither a host's address nor inside any subnet of the topology", src)
		return v
	}
	if !st.Mapped {
		v.Reason = fmt.Sprintf("%s cannot resolve %s: the resolver of vpc %s has no record for it (map *.gke.goog, "+
			"or the name, to %s in a private zone)", from, c.DNS.Name, from.vpc, PrivateGoogleAPIs)
		return v
	}
	v.Trace = m.TraceGoogleAPIs(src)
	if !v.Trace.Reachable {
		v.Reason = fmt.Sprintf("%s resolves %s but %s", from, c.DNS.Name, v.Trace.Reason)
		return v
	}
	if !st.AllowExternalTraffic {
		v.Reason = fmt.Sprintf("%s reaches Google's API front end for %s (%s), but it refuses user traffic: "+
			"dnsEndpointConfig.allowExternalTraffic is false (gcloud container clusters update %s --enable-dns-access)",
			from, c.DNS.Name, v.Trace.Forward.chain(), c.Name)
		return v
	}
	v.Reachable = true
	v.Reason = fmt.Sprintf("%s resolves %s to %s and reaches Google's API front end (%s), which takes user traffic; "+
		"it admits callers whose token IAM allows", from, c.DNS.Name, PrivateGoogleAPIs, v.Trace.Reason)
	return v
}

// TraceGoogleAPIs walks a packet from src to private.googleapis.com and the front end's reply
// back. The reply leaves through the VPC the request entered.
func (m *Model) TraceGoogleAPIs(src netip.Addr) Trace {
	from, ok := m.locate(src)
	if !ok {
		return Trace{Reason: fmt.Sprintf("%s is neither a host's address nor inside any subnet of the topology", src)}
	}
	vip := PrivateGoogleAPIs.Addr()
	var t Trace
	vpc, region := from.vpc, from.region
	for len(t.Forward.Hops) < MaxHops && !t.Forward.Delivered && t.Forward.Blocked == "" {
		hop := Hop{VPC: vpc, Region: region}
		r, ok := m.Lookup(vpc, vip, region)
		switch {
		case !ok:
			hop.Note = "no route"
			t.Forward.Blocked = fmt.Sprintf("%s VPC has no route to %s (private.googleapis.com)", vpc, PrivateGoogleAPIs)
			if why := m.diagnose(vpc, vip, region, map[string]bool{vpc: true}); why != "" {
				t.Forward.Blocked += ": " + why
			}
		case r.Gateway != "":
			hop.Route = &r
			hop.Note = fmt.Sprintf("%s: delivered to Google's API front end", r.Note)
			t.Forward.Delivered = true
		case r.Link == "":
			hop.Route = &r
			hop.Note = "delivered to a subnet"
			t.Forward.Blocked = fmt.Sprintf("%s VPC keeps %s in its own %s, away from Google's API front end", vpc, vip, r.Note)
		default:
			hop.Route = &r
			hop.Note = fmt.Sprintf("%s route %s over %s %s to %s", r.Type, r.Prefix, m.links[r.Link].Type, r.Link, r.NextHopVPC)
			region = m.entryRegion(r, region)
			vpc = r.NextHopVPC
		}
		t.Forward.Hops = append(t.Forward.Hops, hop)
	}
	if !t.Forward.Delivered {
		if t.Forward.Blocked == "" {
			t.Forward.Blocked = fmt.Sprintf("routing loop: %s is still not delivered after %d hops (%s)", vip, MaxHops, t.Forward.chain())
		}
		t.Reason = fmt.Sprintf("%s cannot reach %s: %s", from, PrivateGoogleAPIs, t.Forward.Blocked)
		return t
	}
	// The front end answers into the network the request came from.
	entered := t.Forward.Hops[len(t.Forward.Hops)-1]
	t.Return = m.walk(place{addr: vip, vpc: entered.VPC, region: entered.Region}, from)
	t.Reachable = t.Return.Delivered
	if t.Reachable {
		t.Reason = fmt.Sprintf("%s reaches %s (%s) and the reply comes back (%s)", from, PrivateGoogleAPIs, t.Forward.chain(), t.Return.chain())
	} else {
		t.Reason = fmt.Sprintf("%s reaches %s (%s) but the reply does not come back: %s", from, PrivateGoogleAPIs, t.Forward.chain(), t.Return.Blocked)
	}
	return t
}
