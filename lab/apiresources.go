package lab

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"reachgate/framework/topology"
	"reachgate/lab/netns"
)

// What the lab's GCP API inserted into the project beyond the topology file: VPCs with their
// subnets, and VMs. They live in the cloud state (cloud.json); Declared adds them to the
// file's topology, and Reconcile realizes them as the lab's other VPCs and hosts are (a
// router namespace per VPC, a host namespace per VM on a veth to it, routes and filters
// from the model), and removes what was deleted.

// APINetwork is a VPC the API inserted, with the subnets and Cloud Routers inserted into it.
type APINetwork struct {
	Name        string      `json:"name"`
	RoutingMode string      `json:"routingMode"`
	Subnets     []APISubnet `json:"subnets,omitempty"`
	Routers     []APIRouter `json:"routers,omitempty"`
}

// APIRouter is a Cloud Router the API inserted.
type APIRouter struct {
	Name      string                 `json:"name"`
	Region    string                 `json:"region"`
	ASN       uint32                 `json:"asn"`
	Advertise topology.Advertisement `json:"advertise"`
}

// APISubnet is a subnet the API inserted.
type APISubnet struct {
	Name      string                `json:"name"`
	Region    string                `json:"region"`
	CIDR      netip.Prefix          `json:"cidr"`
	Secondary []topology.NamedRange `json:"secondary,omitempty"`
}

// APIInstance is a VM the API inserted.
type APIInstance struct {
	Name    string            `json:"name"`
	Zone    string            `json:"zone"`
	Network string            `json:"network"`
	Subnet  string            `json:"subnet"`
	IP      netip.Addr        `json:"ip"`
	Tags    []string          `json:"tags,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Seq names its interface on the VPC's router (v<Seq>), stable across other deletions.
	Seq int `json:"seq"`
}

// APIPeering is one side of a VPC peering the API added (networks.addPeering). The lab pairs
// the two sides by name: a peering is ACTIVE, and carries routes, once the peer network has a
// peering of the same name back.
type APIPeering struct {
	Network            string `json:"network"`
	Name               string `json:"name"`
	Peer               string `json:"peer"`
	ExportCustomRoutes bool   `json:"exportCustomRoutes,omitempty"`
	ImportCustomRoutes bool   `json:"importCustomRoutes,omitempty"`
	// Seq numbers the link once active (its interface p<Seq>).
	Seq int `json:"seq"`
}

// PeeringKey is an APIPeering's key in the cloud state.
func PeeringKey(network, name string) string { return network + "/" + name }

// Active reports whether the peer has the same peering back.
func (cs *CloudState) Active(p *APIPeering) (*APIPeering, bool) {
	back := cs.APIPeerings[PeeringKey(p.Peer, p.Name)]
	return back, back != nil && back.Peer == p.Network
}

// RoleLabel is the label that gives an inserted VM a host role (in-vpc-client, ...).
const RoleLabel = "reachgate-role"

// ZoneRegion is a zone's region ("us-central1-a" → "us-central1").
func ZoneRegion(zone string) string {
	if i := strings.LastIndex(zone, "-"); i > 0 {
		return zone[:i]
	}
	return zone
}

// Declared is the topology with what the API inserted: its VPCs after the file's, its VMs
// after the file's hosts. t is not modified.
func Declared(t *topology.Topology, cs *CloudState) *topology.Topology {
	if cs.empty() {
		return t
	}
	d := *t
	d.Networks = slices.Clone(t.Networks)
	for _, name := range slices.Sorted(maps.Keys(cs.Networks)) {
		n := cs.Networks[name]
		tn := &topology.Network{Name: n.Name, Cloud: "gcp", RoutingMode: n.RoutingMode}
		for _, s := range n.Subnets {
			tn.Subnets = append(tn.Subnets, &topology.Subnetwork{Name: s.Name, Region: s.Region, CIDR: s.CIDR, Secondary: s.Secondary})
		}
		for _, r := range n.Routers {
			tn.Routers = append(tn.Routers, &topology.CloudRouter{Name: r.Name, Region: r.Region, ASN: r.ASN, Advertise: r.Advertise})
		}
		d.Networks = append(d.Networks, tn)
	}
	d.Links = slices.Clone(t.Links)
	for _, key := range slices.Sorted(maps.Keys(cs.APIPeerings)) {
		a := cs.APIPeerings[key]
		b, ok := cs.Active(a)
		if !ok || a.Network > b.Network {
			continue // one side only (INACTIVE), or added from the other side
		}
		d.Links = append(d.Links, &topology.Connection{Name: a.Name, Type: topology.LinkPeering,
			A: topology.Endpoint{VPC: a.Network, ExportCustomRoutes: a.ExportCustomRoutes, ImportCustomRoutes: a.ImportCustomRoutes},
			B: topology.Endpoint{VPC: b.Network, ExportCustomRoutes: b.ExportCustomRoutes, ImportCustomRoutes: b.ImportCustomRoutes}})
	}
	d.Hosts = slices.Clone(t.Hosts)
	insts := slices.Collect(maps.Values(cs.Instances))
	slices.SortFunc(insts, func(a, b *APIInstance) int { return a.Seq - b.Seq })
	for _, in := range insts {
		role := in.Labels[RoleLabel]
		if role == "" {
			role = topology.RoleVM
		}
		d.Hosts = append(d.Hosts, &topology.Machine{Name: in.Name, VPC: in.Network, Subnet: in.Subnet, Region: ZoneRegion(in.Zone),
			IP: in.IP, Role: role, Tags: slices.Clone(in.Tags)})
	}
	declareAttachments(&d, cs)
	declareVPNs(&d, cs)
	declarePairs(&d, cs)
	if cs.Cluster != nil && t.Cluster == nil {
		declareCluster(&d, cs)
	}
	return &d
}

// empty reports whether the API inserted nothing the topology file lacks.
func (cs *CloudState) empty() bool {
	return len(cs.Networks) == 0 && len(cs.Instances) == 0 && len(cs.APIPeerings) == 0 && len(cs.Attachments) == 0 && len(cs.PeerVPNs) == 0 && cs.Cluster == nil
}

// fixed names the routers' interfaces to the inserted VMs and the active peerings' links.
func (cs *CloudState) fixed() netns.Fixed {
	f := netns.Fixed{HostIfs: map[string]string{}, Links: map[string]int{}, LinkIfs: map[string]string{}}
	for name, in := range cs.Instances {
		f.HostIfs[name] = "v" + strconv.Itoa(in.Seq)
	}
	for _, p := range cs.APIPeerings {
		if b, ok := cs.Active(p); ok {
			f.Links[p.Name] = min(p.Seq, b.Seq)
		}
	}
	for _, a := range cs.Attachments {
		if a.Connected() {
			f.Links[a.Name] = attachmentSeqBase + a.Seq
		}
	}
	for _, v := range cs.PeerVPNs {
		f.LinkIfs[v.Link] = "w" + strconv.Itoa(v.Seq)
	}
	links, seqs := cs.pairs()
	for name := range links {
		f.Links[name] = pairSeqBase + seqs[name]
	}
	cs.fixCluster(f)
	return f
}

// realizeAPI creates the namespaces of inserted VPCs and VMs that have none yet, and removes
// those of deleted ones. It runs under Reconcile's lock.
func (l *Lab) realizeAPI(ctx context.Context) error {
	d := Declared(l.Topology, l.Cloud)
	have := map[string]bool{}
	for _, ns := range l.State.Namespaces {
		have[ns] = true
	}
	// Deleted VMs first (their veths hang on routers that may go too), then VPCs.
	file := map[string]bool{}
	for _, h := range l.Topology.Hosts {
		file[h.Name] = true
	}
	for name, h := range l.State.Hosts {
		if file[name] || name == OperatorHost || d.Host(name) != nil || !strings.HasPrefix(h.Namespace, netns.NamespaceName(l.State.Name, "h", "")) {
			continue
		}
		if err := netns.RemoveNamespace(ctx, l.State, h.Namespace, name); err != nil {
			return fmt.Errorf("remove instance %s: %w", name, err)
		}
	}
	routerPrefix := netns.NamespaceName(l.State.Name, "vpc", "")
	for _, ns := range slices.Clone(l.State.Namespaces) {
		vpc, ok := strings.CutPrefix(ns, routerPrefix)
		if !ok || d.Network(vpc) != nil {
			continue
		}
		if err := netns.RemoveNamespace(ctx, l.State, ns, ""); err != nil {
			return fmt.Errorf("remove network %s: %w", vpc, err)
		}
	}
	for _, n := range d.Networks {
		if ns := l.Plan.Routers[n.Name]; !have[ns] && (l.Cloud.Networks[n.Name] != nil || l.Cloud.Cluster != nil && n.Name == l.Cloud.Cluster.MasterNetwork()) {
			if err := netns.AddNetwork(ctx, l.State, l.Plan, n); err != nil {
				return fmt.Errorf("network %s: %w", n.Name, err)
			}
		}
	}
	for _, h := range d.Hosts {
		if ns := l.Plan.Hosts[h.Name]; !have[ns] && (l.Cloud.Instances[h.Name] != nil || l.Cloud.clusterHost(h.Name)) {
			if err := netns.AddHost(ctx, l.State, l.Plan, d, h); err != nil {
				return fmt.Errorf("instance %s: %w", h.Name, err)
			}
		}
	}
	return l.realizePeerings(ctx, d)
}

// realizePeerings gives each active peering of the API's VPCs its link, and removes the links
// of peerings that are no longer active.
func (l *Lab) realizePeerings(ctx context.Context, d *topology.Topology) error {
	fixed := l.Cloud.fixed()
	want := map[string]map[string]bool{} // router namespace → link interfaces
	for _, c := range d.Links {
		if _, ok := fixed.Links[c.Name]; !ok {
			continue
		}
		for _, vpc := range []string{c.A.VPC, c.B.VPC} {
			ns := l.Plan.Routers[vpc]
			if want[ns] == nil {
				want[ns] = map[string]bool{}
			}
			want[ns][l.Plan.LinkIf[c.Name]] = true
		}
		have, err := links(ctx, l.Plan.Routers[c.A.VPC])
		if err != nil {
			return err
		}
		if !have[l.Plan.LinkIf[c.Name]] {
			if err := netns.AddLink(ctx, l.Plan, c); err != nil {
				return fmt.Errorf("peering %s: %w", c.Name, err)
			}
		}
	}
	for name := range l.Cloud.Networks {
		ns := l.Plan.Routers[name]
		have, err := links(ctx, ns)
		if err != nil {
			continue // its namespace is gone
		}
		for ifname := range have {
			if len(ifname) > 1 && ifname[0] == 'p' && strings.Trim(ifname[1:], "0123456789") == "" && !want[ns][ifname] {
				if err := netns.RemoveLink(ctx, ns, ifname); err != nil {
					// Removing its peer's end (or the peer's namespace) removes a veth too.
					if now, lerr := links(ctx, ns); lerr == nil && !now[ifname] {
						continue
					}
					return fmt.Errorf("remove link %s of %s: %w", ifname, name, err)
				}
			}
		}
	}
	return nil
}
