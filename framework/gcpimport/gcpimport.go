// Package gcpimport reads a GCP project through Google's official compute v1 and container v1
// clients and writes what decides reachability as a reachgate topology: networks (routing
// mode), subnets with their secondary ranges, ingress firewall rules, Cloud Routers with their
// advertisement and BGP peers, peerings with their custom-route flags, HA VPN tunnels,
// interconnect attachments, VMs and GKE nodes, and the private cluster with its Google-owned
// control plane VPC. The third-party cloud is not in the project: it comes from a small
// hand-written file (External) whose links name the GCP side they join.
//
// The same code reads a real project and a lab's GCP API; only the endpoint differs.
package gcpimport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"go.yaml.in/yaml/v3"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"reachgate/framework/topology"
)

// Config names the project and how to reach its APIs.
type Config struct {
	Project string
	// Regions limits what is read; empty means every region that holds a subnet.
	Regions []string
	// Endpoint is the scheme and host of both APIs (a lab's API); empty means Google's.
	Endpoint string
	// Options are added to every client (credentials, an HTTP client).
	Options []option.ClientOption
	// Timeout bounds the whole import; default 2 minutes.
	Timeout time.Duration
	// Name is the topology's metadata.name; default the project.
	Name string
}

// Labels by which the import recognizes what a VM is: GKE labels its node VMs; an operator
// labels any other VM with reachgate-role (e.g. in-vpc-client).
const (
	LabelGKENode = "goog-gke-node"
	LabelRole    = "reachgate-role"
)

// MasterHost is the name the import gives the host at the cluster's private endpoint.
const MasterHost = "master"

// Result is an imported topology and what the import left out, in words.
type Result struct {
	File  *topology.File
	Notes []string
}

// YAML writes the topology as a file reachgate reads, with the notes as a leading comment.
func (r *Result) YAML() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", r.File.Metadata.Description)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "# note: %s\n", n)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(r.File); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// project is what the import read, by kind.
type project struct {
	networks    []*computepb.Network
	subnets     []*computepb.Subnetwork
	firewalls   []*computepb.Firewall
	routers     []*computepb.Router
	tunnels     []*computepb.VpnTunnel
	attachments []*computepb.InterconnectAttachment
	instances   []*computepb.Instance
	routes      []*computepb.Route
	addresses   int
	clusters    []*containerpb.Cluster
}

// Import reads cfg's project and merges ext (the third-party side; may be nil) into one
// topology. The result is checked by the topology parser before it is returned.
func Import(ctx context.Context, cfg Config, ext *External) (*Result, error) {
	if cfg.Project == "" {
		return nil, errors.New("gcp import: no project (give --project or REACHGATE_GCP_PROJECT)")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	p, err := read(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r, err := build(cfg, p, ext)
	if err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(r.File)
	if err != nil {
		return nil, err
	}
	if _, err := topology.Parse("imported topology", data); err != nil {
		return nil, fmt.Errorf("gcp import: the project does not make a topology reachgate can model: %w", err)
	}
	return r, nil
}

// read lists everything the topology is built from.
func read(ctx context.Context, cfg Config) (*project, error) {
	opts := cfg.Options
	if cfg.Endpoint != "" {
		opts = append([]option.ClientOption{option.WithEndpoint(strings.TrimSuffix(cfg.Endpoint, "/"))}, opts...)
	}
	p := &project{}
	var errs []error
	fail := func(what string, err error) {
		errs = append(errs, fmt.Errorf("gcp import: %s: %w", what, err))
	}
	if c, err := compute.NewNetworksRESTClient(ctx, opts...); err != nil {
		fail("networks client", err)
	} else {
		defer c.Close()
		p.networks, err = collect(c.List(ctx, &computepb.ListNetworksRequest{Project: cfg.Project}))
		if err != nil {
			fail("networks.list", err)
		}
	}
	if c, err := compute.NewSubnetworksRESTClient(ctx, opts...); err != nil {
		fail("subnetworks client", err)
	} else {
		defer c.Close()
		it := c.AggregatedList(ctx, &computepb.AggregatedListSubnetworksRequest{Project: cfg.Project})
		for {
			pair, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				fail("subnetworks.aggregatedList", err)
				break
			}
			p.subnets = append(p.subnets, pair.Value.GetSubnetworks()...)
		}
	}
	if c, err := compute.NewFirewallsRESTClient(ctx, opts...); err != nil {
		fail("firewalls client", err)
	} else {
		defer c.Close()
		if p.firewalls, err = collect(c.List(ctx, &computepb.ListFirewallsRequest{Project: cfg.Project})); err != nil {
			fail("firewalls.list", err)
		}
	}
	if c, err := compute.NewRoutesRESTClient(ctx, opts...); err != nil {
		fail("routes client", err)
	} else {
		defer c.Close()
		if p.routes, err = collect(c.List(ctx, &computepb.ListRoutesRequest{Project: cfg.Project})); err != nil {
			fail("routes.list", err)
		}
	}
	if c, err := compute.NewRoutersRESTClient(ctx, opts...); err != nil {
		fail("routers client", err)
	} else {
		defer c.Close()
		it := c.AggregatedList(ctx, &computepb.AggregatedListRoutersRequest{Project: cfg.Project})
		for {
			pair, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				fail("routers.aggregatedList", err)
				break
			}
			p.routers = append(p.routers, pair.Value.GetRouters()...)
		}
	}
	if c, err := compute.NewInstancesRESTClient(ctx, opts...); err != nil {
		fail("instances client", err)
	} else {
		defer c.Close()
		it := c.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: cfg.Project})
		for {
			pair, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				fail("instances.aggregatedList", err)
				break
			}
			p.instances = append(p.instances, pair.Value.GetInstances()...)
		}
	}
	if c, err := container.NewClusterManagerRESTClient(ctx, opts...); err != nil {
		fail("cluster manager client", err)
	} else {
		defer c.Close()
		resp, err := c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + cfg.Project + "/locations/-"})
		if err != nil {
			fail("clusters.list", err)
		} else {
			p.clusters = resp.GetClusters()
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	regions := cfg.Regions
	if len(regions) == 0 {
		// Every region with a subnet or a Cloud Router: a VLAN attachment or tunnel lands on
		// a router, which may be in a region without subnets.
		for _, s := range p.subnets {
			regions = append(regions, last(s.GetRegion()))
		}
		for _, r := range p.routers {
			regions = append(regions, last(r.GetRegion()))
		}
		slices.Sort(regions)
		regions = slices.Compact(regions)
	}
	if err := readRegional(ctx, cfg.Project, regions, opts, p); err != nil {
		return nil, err
	}
	return p, nil
}

// readRegional lists the regional resources: VPN tunnels, interconnect attachments and
// addresses, region by region.
func readRegional(ctx context.Context, proj string, regions []string, opts []option.ClientOption, p *project) error {
	tc, err := compute.NewVpnTunnelsRESTClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("gcp import: vpn tunnels client: %w", err)
	}
	defer tc.Close()
	ac, err := compute.NewInterconnectAttachmentsRESTClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("gcp import: interconnect attachments client: %w", err)
	}
	defer ac.Close()
	dc, err := compute.NewAddressesRESTClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("gcp import: addresses client: %w", err)
	}
	defer dc.Close()
	for _, region := range regions {
		t, err := collect(tc.List(ctx, &computepb.ListVpnTunnelsRequest{Project: proj, Region: region}))
		if err != nil {
			return fmt.Errorf("gcp import: vpnTunnels.list in %s: %w", region, err)
		}
		p.tunnels = append(p.tunnels, t...)
		a, err := collect(ac.List(ctx, &computepb.ListInterconnectAttachmentsRequest{Project: proj, Region: region}))
		if err != nil {
			return fmt.Errorf("gcp import: interconnectAttachments.list in %s: %w", region, err)
		}
		p.attachments = append(p.attachments, a...)
		d, err := collect(dc.List(ctx, &computepb.ListAddressesRequest{Project: proj, Region: region}))
		if err != nil {
			return fmt.Errorf("gcp import: addresses.list in %s: %w", region, err)
		}
		p.addresses += len(d)
	}
	return nil
}

// collect drains a list iterator.
func collect[T any](it interface{ Next() (T, error) }) ([]T, error) {
	var out []T
	for {
		v, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

// last is the last segment of a self link ("…/networks/gke" → "gke"); a bare name stays.
func last(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// build turns what was read into a topology file.
func build(cfg Config, p *project, ext *External) (*Result, error) {
	name := cfg.Name
	if name == "" {
		name = cfg.Project
	}
	r := &Result{File: &topology.File{APIVersion: topology.APIVersion, Kind: topology.Kind,
		Metadata: topology.Metadata{Name: name, Description: "imported from GCP project " + cfg.Project + " by reachgate gcp import"}}}
	spec := &r.File.Spec
	note := func(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }
	if ext != nil {
		spec.VPCs = append(spec.VPCs, ext.File.Spec.VPCs...)
		spec.Hosts = append(spec.Hosts, ext.File.Spec.Hosts...)
	}
	vpcIndex := map[string]int{}
	for _, n := range p.networks {
		v := topology.VPC{Name: n.GetName()}
		if m := n.GetRoutingConfig().GetRoutingMode(); m == topology.RoutingGlobal {
			v.RoutingMode = m
		}
		vpcIndex[v.Name] = len(spec.VPCs)
		spec.VPCs = append(spec.VPCs, v)
	}
	vpc := func(ref string) *topology.VPC {
		if i, ok := vpcIndex[last(ref)]; ok {
			return &spec.VPCs[i]
		}
		return nil
	}
	for _, s := range p.subnets {
		v := vpc(s.GetNetwork())
		if v == nil {
			continue
		}
		sub := topology.Subnet{Name: s.GetName(), Region: last(s.GetRegion()), CIDR: s.GetIpCidrRange()}
		for _, sr := range s.GetSecondaryIpRanges() {
			sub.SecondaryRanges = append(sub.SecondaryRanges, topology.SecondaryRange{Name: sr.GetRangeName(), CIDR: sr.GetIpCidrRange()})
		}
		v.Subnets = append(v.Subnets, sub)
	}
	for _, fw := range p.firewalls {
		v := vpc(fw.GetNetwork())
		if v == nil {
			continue
		}
		rule, why := firewallRule(fw)
		if why != "" {
			note("firewall rule %s (network %s) is not modelled: %s", fw.GetName(), v.Name, why)
			continue
		}
		v.Firewall = append(v.Firewall, rule)
	}
	routerByKey := map[string]*computepb.Router{}
	for _, rt := range p.routers {
		v := vpc(rt.GetNetwork())
		if v == nil {
			continue
		}
		routerByKey[v.Name+"/"+rt.GetName()] = rt
		cr := topology.Router{Name: rt.GetName(), Region: last(rt.GetRegion()), ASN: rt.GetBgp().GetAsn()}
		if b := rt.GetBgp(); b.GetAdvertiseMode() == topology.AdvertiseCustom {
			cr.Advertise = &topology.Advertising{Mode: topology.AdvertiseCustom, Groups: slices.Clone(b.GetAdvertisedGroups())}
			for _, ipr := range b.GetAdvertisedIpRanges() {
				cr.Advertise.Ranges = append(cr.Advertise.Ranges, ipr.GetRange())
			}
		}
		for _, peer := range rt.GetBgpPeers() {
			if peer.GetAdvertiseMode() == topology.AdvertiseCustom {
				note("router %s: BGP peer %s has its own CUSTOM advertisement, which is not modelled (the router's applies)", rt.GetName(), peer.GetName())
			}
		}
		v.Routers = append(v.Routers, cr)
	}
	staticRoutes := 0
	for _, rt := range p.routes {
		// Subnet, peering and dynamic routes are derived by the model; only static routes are
		// configuration, and the topology has none yet.
		if rt.GetRouteType() == "STATIC" || rt.GetRouteType() == "" && rt.GetNextHopNetwork() == "" {
			if rt.GetNextHopGateway() == "" {
				staticRoutes++
			}
		}
	}
	if staticRoutes > 0 {
		note("%d static route(s) with a next hop other than the internet gateway are not modelled", staticRoutes)
	}
	if p.addresses > 0 {
		note("%d reserved address(es) read; addresses do not change routing and are not in the topology", p.addresses)
	}
	importPeerings(spec, p.networks, vpcIndex, note)
	hosts := map[string]bool{}
	for _, h := range spec.Hosts {
		hosts[h.Name] = true
	}
	for _, in := range sortedInstances(p.instances) {
		if len(in.GetNetworkInterfaces()) == 0 {
			continue
		}
		nic := in.GetNetworkInterfaces()[0]
		v := vpc(nic.GetNetwork())
		if v == nil {
			continue
		}
		if len(in.GetNetworkInterfaces()) > 1 {
			note("instance %s: only its first network interface is modelled", in.GetName())
		}
		h := topology.Host{Name: in.GetName(), VPC: v.Name, Subnet: last(nic.GetSubnetwork()), IP: nic.GetNetworkIP(),
			Tags: slices.Clone(in.GetTags().GetItems())}
		if _, ok := in.GetLabels()[LabelGKENode]; ok {
			h.Role = topology.RoleNode
		} else if role := in.GetLabels()[LabelRole]; role == topology.RoleThirdPartyClient {
			// A VM of a VPC standing in for the third-party cloud: to the project, a VM.
			h.Role = topology.RoleVM
			note("instance %s: role %s on a VPC of the project (a stand-in for the third-party cloud): imported as %s", in.GetName(), role, h.Role)
		} else if role != "" {
			h.Role = role
		}
		hosts[h.Name] = true
		spec.Hosts = append(spec.Hosts, h)
	}
	if err := importCluster(spec, p, vpcIndex, hosts, note); err != nil {
		return nil, err
	}
	importPairs(spec, p, routerByKey)
	if ext != nil {
		if err := ext.joinLinks(spec, p, routerByKey, note); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// importPairs adds a vpn link for each HA VPN pair between two of the project's VPCs (tunnels
// to a peerGcpGateway): present once each end's router has a BGP session over a tunnel to the
// other gateway. The link is named after the pair's first gateway by name.
func importPairs(spec *topology.Spec, p *project, routers map[string]*computepb.Router) {
	type end struct{ vpc, router string }
	byRouter := map[string]string{} // region/router -> VPC
	for key, rt := range routers {
		vpcName, _, _ := strings.Cut(key, "/")
		byRouter[last(rt.GetRegion())+"/"+rt.GetName()] = vpcName
	}
	ends := map[[2]string]map[string]end{} // sorted gateway pair -> gateway -> end
	for _, t := range p.tunnels {
		g, peer := last(t.GetVpnGateway()), last(t.GetPeerGcpGateway())
		vpcName, ok := byRouter[last(t.GetRegion())+"/"+last(t.GetRouter())]
		if peer == "" || !ok || !hasSession(routers[vpcName+"/"+last(t.GetRouter())], t.GetName()) {
			continue
		}
		key := [2]string{g, peer}
		if peer < g {
			key = [2]string{peer, g}
		}
		if ends[key] == nil {
			ends[key] = map[string]end{}
		}
		ends[key][g] = end{vpc: vpcName, router: last(t.GetRouter())}
	}
	for _, key := range slices.SortedFunc(maps.Keys(ends), func(a, b [2]string) int { return strings.Compare(a[0], b[0]) }) {
		a, aok := ends[key][key[0]]
		b, bok := ends[key][key[1]]
		if !aok || !bok {
			continue
		}
		spec.Links = append(spec.Links, topology.Link{Name: key[0], Type: topology.LinkVPN,
			A: topology.LinkEnd{VPC: a.vpc, Router: a.router}, B: topology.LinkEnd{VPC: b.vpc, Router: b.router}})
	}
}

// hasSession reports whether rt has an enabled BGP peer on the interface linked to tunnel.
func hasSession(rt *computepb.Router, tunnel string) bool {
	ifs := map[string]bool{}
	for _, i := range rt.GetInterfaces() {
		if last(i.GetLinkedVpnTunnel()) == tunnel {
			ifs[i.GetName()] = true
		}
	}
	for _, peer := range rt.GetBgpPeers() {
		if ifs[peer.GetInterfaceName()] && !strings.EqualFold(peer.GetEnable(), "FALSE") {
			return true
		}
	}
	return false
}

func sortedInstances(in []*computepb.Instance) []*computepb.Instance {
	out := slices.Clone(in)
	sort.SliceStable(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// firewallRule converts an ingress rule; why says why a rule cannot be modelled.
func firewallRule(fw *computepb.Firewall) (topology.FirewallRule, string) {
	switch {
	case fw.GetDirection() == "EGRESS":
		return topology.FirewallRule{}, "egress rules are not modelled (all egress is allowed)"
	case fw.GetDisabled():
		return topology.FirewallRule{}, "disabled"
	case len(fw.GetSourceRanges()) == 0:
		return topology.FirewallRule{}, "it matches sources by tag or service account only"
	case len(fw.GetSourceTags()) > 0 || len(fw.GetSourceServiceAccounts()) > 0 || len(fw.GetTargetServiceAccounts()) > 0:
		return topology.FirewallRule{}, "it matches by service account or source tag as well as by range"
	}
	rule := topology.FirewallRule{Name: fw.GetName(), SourceRanges: slices.Clone(fw.GetSourceRanges()), TargetTags: slices.Clone(fw.GetTargetTags())}
	if fw.Priority != nil && fw.GetPriority() != topology.DefaultFirewallPriority {
		prio := int(fw.GetPriority())
		rule.Priority = &prio
	}
	type entry struct {
		proto string
		ports []string
	}
	var entries []entry
	for _, a := range fw.GetAllowed() {
		entries = append(entries, entry{a.GetIPProtocol(), a.GetPorts()})
	}
	if len(fw.GetDenied()) > 0 {
		rule.Action = "deny"
		for _, d := range fw.GetDenied() {
			entries = append(entries, entry{d.GetIPProtocol(), d.GetPorts()})
		}
	}
	all := false
	for _, e := range entries {
		proto := strings.ToLower(e.proto)
		switch {
		case proto == "all":
			all = true
		case len(e.ports) == 0:
			rule.Ports = append(rule.Ports, proto)
		default:
			for _, port := range e.ports {
				rule.Ports = append(rule.Ports, proto+":"+port)
			}
		}
	}
	if all {
		rule.Ports = nil // "all" is the default
	}
	return rule, ""
}

// importPeerings makes one peering link per pair of networks that peer in the project (each
// side's flags from its own side). The GKE peering is made with the cluster.
func importPeerings(spec *topology.Spec, networks []*computepb.Network, vpcIndex map[string]int, note func(string, ...any)) {
	type side struct {
		network string
		peer    *computepb.NetworkPeering
	}
	sides := map[[2]string]side{}
	var order [][2]string
	for _, n := range networks {
		for _, pe := range n.GetPeerings() {
			key := [2]string{n.GetName(), last(pe.GetNetwork())}
			sides[key] = side{n.GetName(), pe}
			order = append(order, key)
		}
	}
	done := map[[2]string]bool{}
	for _, key := range order {
		if done[key] {
			continue
		}
		a := sides[key]
		b, ok := sides[[2]string{key[1], key[0]}]
		if _, inProject := vpcIndex[key[1]]; !inProject {
			continue // Google-owned or another project's network: the cluster's peering is made with the cluster
		}
		done[key], done[[2]string{key[1], key[0]}] = true, true
		if !ok || a.peer.GetState() == "INACTIVE" {
			note("peering %s of %s is INACTIVE (the other side has none): left out", a.peer.GetName(), a.network)
			continue
		}
		name := a.peer.GetName()
		if b.peer.GetName() != name {
			note("peering %s of %s is %s on the other side; the link is named after the first", name, a.network, b.peer.GetName())
		}
		spec.Links = append(spec.Links, topology.Link{Name: name, Type: topology.LinkPeering,
			A: topology.LinkEnd{VPC: a.network, ExportCustomRoutes: a.peer.GetExportCustomRoutes(), ImportCustomRoutes: a.peer.GetImportCustomRoutes()},
			B: topology.LinkEnd{VPC: b.network, ExportCustomRoutes: b.peer.GetExportCustomRoutes(), ImportCustomRoutes: b.peer.GetImportCustomRoutes()}})
	}
}

// importCluster adds the private cluster and the host at its private endpoint: for a
// peering-based cluster also its Google-owned control plane VPC (named after the peered
// network) and its peering; for a Private Service Connect cluster the endpoint's subnet.
func importCluster(spec *topology.Spec, p *project, vpcIndex map[string]int, hosts map[string]bool, note func(string, ...any)) error {
	if len(p.clusters) == 0 {
		return nil
	}
	cl := p.clusters[0]
	for _, other := range p.clusters[1:] {
		note("cluster %s (%s) is not modelled: a topology holds one cluster", other.GetName(), other.GetLocation())
	}
	pc := cl.GetPrivateClusterConfig()
	i, ok := vpcIndex[last(cl.GetNetwork())]
	if !ok {
		return fmt.Errorf("gcp import: cluster %s is in network %s, which networks.list did not return", cl.GetName(), cl.GetNetwork())
	}
	nodeVPC := spec.VPCs[i].Name
	if sub := pc.GetPrivateEndpointSubnetwork(); sub != "" {
		importPSCCluster(spec, cl, nodeVPC, hosts)
		return nil
	}
	if pc.GetPeeringName() == "" || pc.GetMasterIpv4CidrBlock() == "" {
		note("cluster %s has neither a peering to a Google-owned VPC nor a privateEndpointSubnetwork: not modelled", cl.GetName())
		return nil
	}
	var peering *computepb.NetworkPeering
	for _, n := range p.networks {
		if n.GetName() != nodeVPC {
			continue
		}
		for _, pe := range n.GetPeerings() {
			if pe.GetName() == pc.GetPeeringName() {
				peering = pe
			}
		}
	}
	if peering == nil {
		return fmt.Errorf("gcp import: cluster %s names peering %s, which network %s does not have", cl.GetName(), pc.GetPeeringName(), nodeVPC)
	}
	masterVPC := last(peering.GetNetwork())
	if _, clash := vpcIndex[masterVPC]; clash {
		masterVPC += "-gke-master"
	}
	region := topology.RegionOf(cl.GetLocation())
	spec.VPCs = append(spec.VPCs, topology.VPC{Name: masterVPC, ManagedBy: topology.ManagedByGKE,
		Subnets: []topology.Subnet{{Name: "master", Region: region, CIDR: pc.GetMasterIpv4CidrBlock()}}})
	host := MasterHost
	for hosts[host] {
		host += "-cp"
	}
	spec.Hosts = append(spec.Hosts, topology.Host{Name: host, VPC: masterVPC, Subnet: "master", IP: pc.GetPrivateEndpoint(), Role: topology.RoleControlPlane})
	// GCP: GKE creates its peering's Google side importing custom routes; the customer side's
	// flags are what the customer set.
	spec.Links = append(spec.Links, topology.Link{Name: pc.GetPeeringName(), Type: topology.LinkPeering,
		A: topology.LinkEnd{VPC: nodeVPC, ExportCustomRoutes: peering.GetExportCustomRoutes(), ImportCustomRoutes: peering.GetImportCustomRoutes()},
		B: topology.LinkEnd{VPC: masterVPC, ImportCustomRoutes: true}})
	c := clusterOf(cl, nodeVPC)
	c.MasterVPC, c.MasterCIDR, c.Peering = masterVPC, pc.GetMasterIpv4CidrBlock(), pc.GetPeeringName()
	spec.Cluster = c
	return nil
}

// importPSCCluster adds a Private Service Connect cluster: the host at its endpoint, in the
// endpoint's subnet of the cluster's VPC, and endpoint mode psc with its global access.
func importPSCCluster(spec *topology.Spec, cl *containerpb.Cluster, nodeVPC string, hosts map[string]bool) {
	pc := cl.GetPrivateClusterConfig()
	host := MasterHost
	for hosts[host] {
		host += "-cp"
	}
	sub := last(pc.GetPrivateEndpointSubnetwork())
	spec.Hosts = append(spec.Hosts, topology.Host{Name: host, VPC: nodeVPC, Subnet: sub, IP: pc.GetPrivateEndpoint(), Role: topology.RoleControlPlane})
	c := clusterOf(cl, nodeVPC)
	c.Endpoint = &topology.ClusterEndpoint{Mode: topology.EndpointPSC, GlobalAccess: pc.GetMasterGlobalAccessConfig().GetEnabled()}
	if sub != c.Subnet {
		c.Endpoint.Subnet = sub
	}
	spec.Cluster = c
}

// clusterOf is what a cluster's topology entry says whatever its endpoint mode: location,
// node subnet and ranges, endpoint address, version and authorized networks.
func clusterOf(cl *containerpb.Cluster, nodeVPC string) *topology.Cluster {
	pc, policy := cl.GetPrivateClusterConfig(), cl.GetIpAllocationPolicy()
	c := &topology.Cluster{Name: cl.GetName(), Location: cl.GetLocation(), VPC: nodeVPC, Subnet: last(cl.GetSubnetwork()),
		PodRange: policy.GetClusterSecondaryRangeName(), ServiceRange: policy.GetServicesSecondaryRangeName(),
		PrivateEndpoint: pc.GetPrivateEndpoint()}
	if core, ok := versionCore(cl.GetCurrentMasterVersion()); ok {
		c.KubernetesVersion = "v" + core
	}
	if dns := cl.GetControlPlaneEndpointsConfig().GetDnsEndpointConfig(); dns.GetEndpoint() != "" {
		c.DNSEndpoint = &topology.DNSEndpoint{Enabled: true, AllowExternalTraffic: dns.GetAllowExternalTraffic()}
	}
	if an := cl.GetMasterAuthorizedNetworksConfig(); an.GetEnabled() {
		c.AuthorizedNetworks = &topology.AuthorizedNetworks{Enabled: true, PrivateEndpointEnforcement: an.GetPrivateEndpointEnforcementEnabled()}
		for _, b := range an.GetCidrBlocks() {
			c.AuthorizedNetworks.CIDRBlocks = append(c.AuthorizedNetworks.CIDRBlocks, b.GetCidrBlock())
		}
	}
	return c
}

// versionCore is x.y.z of what GKE reports ("1.37.2-gke.1200"), when it has that form.
func versionCore(v string) (string, bool) {
	core, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return "", false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return "", false
		}
	}
	return core, true
}
