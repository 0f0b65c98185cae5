package gcp

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"reachgate/fixtures"
	"reachgate/framework/topology"
)

// Prices is the price table (fixtures/gcp/prices.yaml): USD per hour by item.
type Prices struct {
	Currency string               `yaml:"currency"`
	Region   string               `yaml:"region"`
	Items    map[string]PriceItem `yaml:"items"`
}

// PriceItem is one line of the table.
type PriceItem struct {
	Hourly float64 `yaml:"hourly"`
	Per    string  `yaml:"per"`
}

// DefaultPrices is the embedded table.
func DefaultPrices() (Prices, error) { return ParsePrices(fixtures.GCPPrices()) }

// ParsePrices reads a price table; every item must have a price ≥ 0.
func ParsePrices(data []byte) (Prices, error) {
	var p Prices
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("price table: %w", err)
	}
	for name, it := range p.Items {
		if it.Hourly < 0 {
			return p, fmt.Errorf("price table: %s: hourly %v is negative", name, it.Hourly)
		}
	}
	return p, nil
}

// Planned is one resource a run creates, in creation order.
type Planned struct {
	Kind  string `json:"kind"`
	Scope string `json:"scope"`
	Name  string `json:"name"`
	// For says what it stands for in the topology.
	For string `json:"for"`
	// Emulated marks what stands in for something outside GCP (the third-party cloud, its
	// interconnect), so a report says so.
	Emulated bool `json:"emulated,omitempty"`
	// By is who creates it: "provision", GKE ("gke", inside the cluster's creation) or a
	// solution's suite ("ilb-proxy", "bgp-export").
	By string `json:"by"`
	// Price is the price table's item and Count how many of it the resource costs.
	Price  string  `json:"price"`
	Count  int     `json:"count"`
	Hourly float64 `json:"hourly"`
}

// RunPlan is what a run creates and what it costs.
type RunPlan struct {
	Run       string    `json:"run"`
	Topology  string    `json:"topology"`
	Hours     float64   `json:"hours"`
	Resources []Planned `json:"resources"`
	Hourly    float64   `json:"hourly"`
	Cost      float64   `json:"cost"`
	Currency  string    `json:"currency"`
	Notes     []string  `json:"notes,omitempty"`
}

var runRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// ValidRun checks a run's name (it is part of every resource's name and a label value).
func ValidRun(run string) error {
	if !runRE.MatchString(run) || strings.HasSuffix(run, "-") {
		return fmt.Errorf("run name %q: want 1-20 characters of a-z, 0-9 and -, starting with a letter and not ending with -", run)
	}
	return nil
}

// ResourceName is a topology object's name in a run: rg-<run>-<name>, lower case, at most 63
// characters (GCE's rule; a longer one keeps a prefix and a hash of the whole).
func ResourceName(run, name string) string {
	n := NamePrefix + run + "-" + lowerDashes(name)
	if len(n) <= 63 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	return strings.TrimRight(n[:54], "-") + "-" + fmt.Sprintf("%08x", h.Sum32())
}

// lowerDashes is s in lower case with every character but a-z and 0-9 a dash, without dashes
// at either end.
func lowerDashes(s string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s), "-")
}

// Plan lists what a run of topology t creates in a project, in creation order, with what
// each costs by the price table, over hours.
//
// The customer's GCP VPCs become VPCs (routing mode, subnets with their secondary ranges,
// firewall rules, Cloud Routers); a peering between two of them a peering; the cluster a
// peering-based private GKE cluster (GKE makes its nodes and the master peering); each host
// with a role, other than the cluster's, an e2-small VM. The third-party cloud is played by
// a VPC of the same project, and its interconnect by an HA VPN pair (a gateway and a Cloud
// Router on each side, two tunnels each): both are marked emulated. A solution link's HA VPN
// (bgp-export) and the internal load balancer of ilb-proxy are created by their suites.
func Plan(t *topology.Topology, run string, prices Prices, hours float64) (*RunPlan, error) {
	return PlanWith(t, PlanOptions{Run: run, Hours: hours, Prices: prices})
}

// PlanOptions are a plan's inputs.
type PlanOptions struct {
	Run    string
	Hours  float64
	Prices Prices
	// ThirdPartyRegion is the GCP region the emulated third-party cloud lives in (its own
	// regions are another cloud's); default DefaultThirdPartyRegion.
	ThirdPartyRegion string
}

// DefaultThirdPartyRegion places the emulated third-party cloud (us-east4: Northern
// Virginia, beside AWS's us-east-1 of the article's VM).
const DefaultThirdPartyRegion = "us-east4"

// PlanWith is Plan with every option.
func PlanWith(t *topology.Topology, o PlanOptions) (*RunPlan, error) {
	run, prices, hours := o.Run, o.Prices, o.Hours
	if o.ThirdPartyRegion == "" {
		o.ThirdPartyRegion = DefaultThirdPartyRegion
	}
	if err := ValidRun(run); err != nil {
		return nil, err
	}
	// region is where a VPC's region is in GCP: the emulated third party's is another cloud's.
	region := func(vpc, r string) string {
		if n := t.Network(vpc); n != nil && !n.GCP() {
			return o.ThirdPartyRegion
		}
		return r
	}
	if hours <= 0 {
		return nil, fmt.Errorf("hours %v: want a run's length > 0", hours)
	}
	p := &RunPlan{Run: run, Topology: t.Name, Hours: hours, Currency: prices.Currency}
	var missing []string
	add := func(r Planned) {
		if r.Count == 0 {
			r.Count = 1
		}
		if r.Price == "" {
			r.Price = "no-charge"
		}
		it, ok := prices.Items[r.Price]
		if !ok {
			missing = append(missing, r.Price)
		}
		r.Hourly = it.Hourly * float64(r.Count)
		p.Resources = append(p.Resources, r)
		p.Hourly += r.Hourly
	}
	name := func(n string) string { return ResourceName(run, n) }
	gcp := func(n *topology.Network) bool { return n.GCP() && n.ManagedBy == "" }
	for _, n := range t.Networks {
		if n.ManagedBy != "" {
			continue
		}
		emulated := !n.GCP()
		what := "VPC " + n.Name
		if emulated {
			what = "the third-party cloud (" + n.Cloud + ") VPC " + n.Name + ", played by a VPC in " + o.ThirdPartyRegion
		}
		add(Planned{Kind: "network", Scope: "global", Name: name(n.Name), For: what, Emulated: emulated, By: "provision"})
		for _, s := range n.Subnets {
			add(Planned{Kind: "subnetwork", Scope: "regions/" + region(n.Name, s.Region), Name: name(n.Name + "-" + s.Name),
				For: fmt.Sprintf("subnet %s %s (%d secondary ranges)", s.Name, s.CIDR, len(s.Secondary)), Emulated: emulated, By: "provision"})
		}
		for _, r := range n.Firewall {
			add(Planned{Kind: "firewall", Scope: "global", Name: name(r.Name), For: "firewall rule " + r.Name + " of " + n.Name, Emulated: emulated, By: "provision"})
		}
		for _, r := range n.Routers {
			add(Planned{Kind: "router", Scope: "regions/" + region(n.Name, r.Region), Name: name(r.Name), For: fmt.Sprintf("Cloud Router %s (ASN %d)", r.Name, r.ASN), Emulated: emulated, By: "provision"})
		}
	}
	for _, l := range t.Links {
		a, b := t.Network(l.A.VPC), t.Network(l.B.VPC)
		if a == nil || b == nil || a.ManagedBy != "" || b.ManagedBy != "" {
			continue // the master's peering: GKE makes it with the cluster
		}
		switch {
		case l.Type == topology.LinkPeering && gcp(a) && gcp(b):
			add(Planned{Kind: "peering", Scope: "global", Name: name(l.Name), For: "peering " + l.Name + " (both sides)", By: "provision"})
		case l.Solution != "":
			tunnels := l.Tunnels
			if tunnels == 0 {
				tunnels = 4
			}
			for _, side := range []topology.Endpoint{l.A, l.B} {
				emulated := !t.Network(side.VPC).GCP()
				region := region(side.VPC, routerRegion(t, side))
				add(Planned{Kind: "vpnGateway", Scope: "regions/" + region, Name: name(l.Name + "-" + side.VPC), For: "HA VPN gateway of " + l.Name + " in " + side.VPC, Emulated: emulated, By: l.Solution})
				add(Planned{Kind: "vpnTunnel", Scope: "regions/" + region, Name: name(l.Name + "-" + side.VPC + "-*"), For: fmt.Sprintf("%d tunnels of %s from %s", tunnels, l.Name, side.VPC),
					Emulated: emulated, By: l.Solution, Price: "ha-vpn-tunnel", Count: tunnels})
			}
		case !gcp(a) || !gcp(b):
			// The interconnect: an HA VPN pair between the emulated third party and the VPC.
			for _, side := range []topology.Endpoint{l.A, l.B} {
				region := region(side.VPC, routerRegion(t, side))
				add(Planned{Kind: "vpnGateway", Scope: "regions/" + region, Name: name(l.Name + "-" + side.VPC), For: "HA VPN gateway standing in for " + l.Name + " (" + l.Type + ") in " + side.VPC, Emulated: true, By: "provision"})
				add(Planned{Kind: "vpnTunnel", Scope: "regions/" + region, Name: name(l.Name + "-" + side.VPC + "-*"), For: "2 tunnels standing in for " + l.Name + " from " + side.VPC,
					Emulated: true, By: "provision", Price: "ha-vpn-tunnel", Count: 2})
			}
		}
	}
	if cl := t.Cluster; cl != nil {
		mode := "peering-based private cluster, master CIDR " + cl.MasterCIDR.String()
		if cl.PSC {
			mode = "Private Service Connect cluster (no master CIDR)"
			p.Notes = append(p.Notes, "the cluster is PSC-based: GKE makes no peering, so bgp-export's peering export cannot apply")
		}
		add(Planned{Kind: "cluster", Scope: "locations/" + cl.Location, Name: name(cl.Name), For: "GKE " + mode, By: "provision", Price: "gke-cluster"})
		add(Planned{Kind: "instance", Scope: "zones/" + cl.Location, Name: "gke-" + name(cl.Name) + "-default-pool-*", For: fmt.Sprintf("%d GKE nodes (e2-medium)", len(cl.Nodes)), By: "gke", Price: "e2-medium", Count: len(cl.Nodes)})
		add(Planned{Kind: "disk", Scope: "zones/" + cl.Location, Name: "gke-" + name(cl.Name) + "-default-pool-*", For: "the nodes' boot disks", By: "gke", Price: "pd-balanced-10gb", Count: 10 * len(cl.Nodes)})
		add(Planned{Kind: "address", Scope: "regions/" + topology.RegionOf(cl.Location), Name: "(ilb-proxy's Service)", For: "the internal load balancer's address", By: "ilb-proxy"})
		add(Planned{Kind: "forwardingRule", Scope: "regions/" + topology.RegionOf(cl.Location), Name: "(ilb-proxy's Service)", For: "the internal load balancer in front of the proxy", By: "ilb-proxy", Price: "forwarding-rule"})
	}
	for _, h := range t.Hosts {
		switch h.Role {
		case topology.RoleNode, topology.RoleControlPlane:
			continue
		case topology.RoleManagedService:
			p.Notes = append(p.Notes, "host "+h.Name+" is a managed service ("+h.Service.Kind+"): not provisioned by the gcp provider")
			continue
		}
		emulated := !t.Network(h.VPC).GCP()
		zone := "zones/" + region(h.VPC, h.Region) + "-a"
		add(Planned{Kind: "instance", Scope: zone, Name: name(h.Name), For: fmt.Sprintf("host %s (%s) at %s", h.Name, h.Role, h.IP), Emulated: emulated, By: "provision", Price: "e2-small"})
		add(Planned{Kind: "disk", Scope: zone, Name: name(h.Name), For: "its boot disk", Emulated: emulated, By: "provision", Price: "pd-balanced-10gb", Count: 10})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("price table: no item %s", strings.Join(missing, ", "))
	}
	p.Cost = p.Hourly * hours
	return p, nil
}

// routerRegion is the region of a link end's Cloud Router (else of its VPC's first subnet).
func routerRegion(t *topology.Topology, e topology.Endpoint) string {
	n := t.Network(e.VPC)
	for _, r := range n.Routers {
		if r.Name == e.Router {
			return r.Region
		}
	}
	if len(n.Subnets) > 0 {
		return n.Subnets[0].Region
	}
	return ""
}
