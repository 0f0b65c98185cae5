package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/agent"
	"reachgate/framework/topology"
)

// ProvisionOptions say how a topology goes into a project.
type ProvisionOptions struct {
	Run string
	// ExternalThirdParty: the third-party cloud exists outside the project (a lab's
	// third-party side), so its VPCs and hosts are not created. Otherwise a VPC of the project
	// plays it (in ThirdPartyRegion).
	ExternalThirdParty bool
	ThirdPartyRegion   string
	// AgentURL and AgentSHA256 give every VM reachgate's agent (its startup script fetches it).
	AgentURL, AgentSHA256 string
	// MachineType and Image of the VMs (defaults e2-small, debian-12).
	MachineType, Image string
	// Partner connects a Partner Interconnect attachment, by its pairing key, to a VPC of the
	// external third-party cloud (provider.PartnerInterconnect): with it, an interconnect link
	// between a VPC of the project and an external one is an attachment the partner connects.
	Partner func(ctx context.Context, pairingKey, vpc string) error
	// Log gets a line per resource created.
	Log io.Writer
}

// Provisioned is a topology in a project: where each of its hosts is.
type Provisioned struct {
	Run string
	// Hosts maps a topology host to its VM.
	Hosts map[string]ProvisionedHost
	// Cluster is the topology's cluster as GKE made it (nil without one).
	Cluster *ProvisionedCluster
	// Took is how long Provision took.
	Took time.Duration
	// Notes say what the run only emulates (an interconnect played by an HA VPN pair).
	Notes []string
}

// ProvisionedCluster is the topology's cluster in the project.
type ProvisionedCluster struct {
	Name, Location string
	// Peering is the VPC peering GKE made to the control plane's VPC.
	Peering string
	// Nodes are the node VMs' names, in GKE's order.
	Nodes []string
}

// ProvisionedHost is a host's VM.
type ProvisionedHost struct {
	Zone, Instance string
}

// ErrNotProvisionable lists what of a topology the gcp provider does not create yet.
var ErrNotProvisionable = errors.New("gcp: provision")

// Provision creates a topology's VPCs, subnets (with secondary ranges), Cloud Routers,
// firewall rules and VMs in the project, marked with the run (name prefix, label,
// description), peerings between its VPCs (from both sides), and waits for every VM's agent.
// A peering-based private GKE cluster is created with the topology's master range (GKE's own
// peering and master VPC come with it). Interconnects and VPN links are refused with
// ErrNotProvisionable (not created yet by this provider). On error what was created stays:
// the caller tears the run down (Teardown), as it must after a kill too (the janitor).
func (c *Cloud) Provision(ctx context.Context, t *topology.Topology, o ProvisionOptions) (*Provisioned, error) {
	start := time.Now()
	if err := ValidRun(o.Run); err != nil {
		return nil, err
	}
	if o.ThirdPartyRegion == "" {
		o.ThirdPartyRegion = DefaultThirdPartyRegion
	}
	if o.MachineType == "" {
		o.MachineType = "e2-small"
	}
	if o.Image == "" {
		o.Image = "projects/debian-cloud/global/images/family/debian-12"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	mine := func(n *topology.Network) bool {
		return n != nil && n.ManagedBy == "" && (n.GCP() || !o.ExternalThirdParty)
	}
	var refused []string
	var peerings, partnered, standIns []*topology.Connection
	external := func(n *topology.Network) bool { return n != nil && !n.GCP() && o.ExternalThirdParty }
	for _, l := range t.Links {
		a, b := t.Network(l.A.VPC), t.Network(l.B.VPC)
		switch {
		case t.Cluster != nil && l.Name == t.Cluster.Peering:
			// GKE's own peering to the control plane's VPC: the cluster brings it.
		case l.Solution != "" && o.ExternalThirdParty && (external(a) || external(b)):
			// A solution's HA VPN to the third-party cloud: the solution creates it, and the
			// third-party cloud configures its end (provider.ThirdPartyVPN).
		case l.Type == topology.LinkPeering && mine(a) && mine(b) && a.GCP() && b.GCP() && l.Solution == "":
			peerings = append(peerings, l)
		case l.Type == topology.LinkInterconnect && l.Solution == "" && o.Partner != nil &&
			(mine(a) && a.GCP() && external(b) || mine(b) && b.GCP() && external(a)):
			partnered = append(partnered, l)
		case l.Type == topology.LinkInterconnect && l.Solution == "" && mine(a) && mine(b) && a.GCP() != b.GCP() &&
			a.Router(l.A.Router) != nil && b.Router(l.B.Router) != nil:
			// The third-party VPC is a stand-in in the project: an HA VPN pair plays the interconnect.
			standIns = append(standIns, l)
		case mine(a) || mine(b):
			refused = append(refused, "link "+l.Name)
		}
	}
	if cl := t.Cluster; cl != nil && (cl.PSC || !masterCIDR(t).IsValid()) {
		refused = append(refused, "cluster "+cl.Name+" (the gcp provider creates peering-based private clusters: give it a master VPC and range)")
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: not created by the gcp provider yet: %s", ErrNotProvisionable, strings.Join(refused, ", "))
	}
	region := func(n *topology.Network, r string) string {
		if !n.GCP() {
			return o.ThirdPartyRegion
		}
		return r
	}
	p := c.cfg.Project
	desc := proto.String(Description(o.Run))
	netRef := func(n string) *string {
		return proto.String("projects/" + p + "/global/networks/" + ResourceName(o.Run, n))
	}
	step := func(what string, err error, t0 time.Time) error {
		if err != nil {
			return fmt.Errorf("provision %s: %w", what, err)
		}
		fmt.Fprintf(o.Log, "provision: %s in %.1fs\n", what, time.Since(t0).Seconds())
		return nil
	}
	for _, n := range t.Networks {
		if !mine(n) {
			continue
		}
		t0 := time.Now()
		mode := n.RoutingMode
		if mode == "" {
			mode = topology.RoutingRegional
		}
		err := c.do(ctx, "", "insert network", func() (*compute.Operation, error) {
			return c.networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: p, RequestId: requestID(), NetworkResource: &computepb.Network{
				Name: proto.String(ResourceName(o.Run, n.Name)), Description: desc, AutoCreateSubnetworks: proto.Bool(false),
				RoutingConfig: &computepb.NetworkRoutingConfig{RoutingMode: proto.String(mode)}}})
		})
		if err := step("network "+ResourceName(o.Run, n.Name), err, t0); err != nil {
			return nil, err
		}
		for _, s := range n.Subnets {
			t0 := time.Now()
			sub := &computepb.Subnetwork{Name: proto.String(ResourceName(o.Run, n.Name+"-"+s.Name)), Description: desc, Network: netRef(n.Name),
				IpCidrRange: proto.String(s.CIDR.String()), PrivateIpGoogleAccess: proto.Bool(true)}
			for _, r := range s.Secondary {
				sub.SecondaryIpRanges = append(sub.SecondaryIpRanges, &computepb.SubnetworkSecondaryRange{RangeName: proto.String(r.Name), IpCidrRange: proto.String(r.CIDR.String())})
			}
			rg := region(n, s.Region)
			err := c.do(ctx, rg, "insert subnetwork", func() (*compute.Operation, error) {
				return c.subnetworks.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: p, Region: rg, RequestId: requestID(), SubnetworkResource: sub})
			})
			if err := step("subnetwork "+sub.GetName(), err, t0); err != nil {
				return nil, err
			}
		}
		for _, r := range n.Routers {
			t0 := time.Now()
			rg := region(n, r.Region)
			bgp := &computepb.RouterBgp{Asn: proto.Uint32(r.ASN), AdvertiseMode: proto.String(r.Advertise.Mode), AdvertisedGroups: r.Advertise.Groups}
			if r.Advertise.Mode == "" {
				bgp.AdvertiseMode = proto.String(topology.AdvertiseDefault)
			}
			for _, p := range r.Advertise.Ranges {
				bgp.AdvertisedIpRanges = append(bgp.AdvertisedIpRanges, &computepb.RouterAdvertisedIpRange{Range: proto.String(p.String())})
			}
			rt := &computepb.Router{Name: proto.String(ResourceName(o.Run, r.Name)), Description: desc, Network: netRef(n.Name), Bgp: bgp}
			err := c.do(ctx, rg, "insert router", func() (*compute.Operation, error) {
				return c.routers.Insert(ctx, &computepb.InsertRouterRequest{Project: p, Region: rg, RequestId: requestID(), RouterResource: rt})
			})
			if err := step("router "+rt.GetName(), err, t0); err != nil {
				return nil, err
			}
		}
		for _, r := range n.Firewall {
			t0 := time.Now()
			fw := firewallOf(r)
			fw.Name, fw.Description, fw.Network = proto.String(ResourceName(o.Run, r.Name)), desc, netRef(n.Name)
			err := c.do(ctx, "", "insert firewall", func() (*compute.Operation, error) {
				return c.firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: p, RequestId: requestID(), FirewallResource: fw})
			})
			if err := step("firewall "+fw.GetName(), err, t0); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range peerings {
		// A peering is made from each side; it is ACTIVE once both exist.
		for _, side := range [][2]topology.Endpoint{{l.A, l.B}, {l.B, l.A}} {
			t0 := time.Now()
			me, them := side[0], side[1]
			np := &computepb.NetworkPeering{Name: proto.String(ResourceName(o.Run, l.Name)), Network: netRef(them.VPC), ExchangeSubnetRoutes: proto.Bool(true),
				ExportCustomRoutes: proto.Bool(me.ExportCustomRoutes), ImportCustomRoutes: proto.Bool(me.ImportCustomRoutes)}
			err := c.do(ctx, "", "add peering", func() (*compute.Operation, error) {
				return c.networks.AddPeering(ctx, &computepb.AddPeeringNetworkRequest{Project: p, Network: ResourceName(o.Run, me.VPC), RequestId: requestID(),
					NetworksAddPeeringRequestResource: &computepb.NetworksAddPeeringRequest{NetworkPeering: np}})
			})
			if err := step("peering "+np.GetName()+" from "+ResourceName(o.Run, me.VPC), err, t0); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range partnered {
		t0 := time.Now()
		name, err := c.partnerAttachment(ctx, t, l, o)
		if err := step("interconnect attachment "+name+" (partner: the third-party cloud)", err, t0); err != nil {
			return nil, err
		}
	}
	for i, l := range standIns {
		t0 := time.Now()
		err := c.standInInterconnect(ctx, t, l, i, o, region)
		if err := step("HA VPN pair "+ResourceName(o.Run, l.Name)+" (emulating interconnect "+l.Name+" to the stand-in third-party VPC)", err, t0); err != nil {
			return nil, err
		}
	}
	out := &Provisioned{Run: o.Run, Hosts: map[string]ProvisionedHost{}}
	for _, l := range standIns {
		g, tp := l.A.VPC, l.B.VPC
		if !t.Network(g).GCP() {
			g, tp = tp, g
		}
		out.Notes = append(out.Notes, fmt.Sprintf("interconnect %s is emulated: an HA VPN pair joins %s to %s, a VPC of the project standing in for the third-party cloud's %s",
			l.Name, ResourceName(o.Run, g), ResourceName(o.Run, tp), tp))
	}
	if t.Cluster != nil {
		t0 := time.Now()
		cl, err := c.createCluster(ctx, t, o.Run)
		if err := step("cluster "+ResourceName(o.Run, t.Cluster.Name), err, t0); err != nil {
			return nil, err
		}
		out.Cluster = cl
	}
	for _, h := range t.Hosts {
		n := t.Network(h.VPC)
		if !mine(n) || h.Role == topology.RoleNode || h.Role == topology.RoleControlPlane || h.Role == topology.RoleManagedService {
			continue
		}
		t0 := time.Now()
		zone := region(n, h.Region) + "-a"
		name := ResourceName(o.Run, h.Name)
		labels := map[string]string{RunLabel: o.Run}
		if h.Role != topology.RoleVM {
			labels["reachgate-role"] = h.Role
		}
		md := &computepb.Metadata{Items: []*computepb.Items{
			{Key: proto.String("enable-guest-attributes"), Value: proto.String("TRUE")},
			{Key: proto.String("startup-script"), Value: proto.String(agent.StartupScript)},
			{Key: proto.String(agent.URLKey), Value: proto.String(o.AgentURL)},
			{Key: proto.String(agent.SHA256Key), Value: proto.String(o.AgentSHA256)},
		}}
		inst := &computepb.Instance{Name: proto.String(name), Description: desc, Labels: labels, Metadata: md,
			MachineType: proto.String("zones/" + zone + "/machineTypes/" + o.MachineType),
			Tags:        &computepb.Tags{Items: h.Tags},
			NetworkInterfaces: []*computepb.NetworkInterface{{Network: netRef(h.VPC),
				Subnetwork: proto.String("projects/" + p + "/regions/" + region(n, h.Region) + "/subnetworks/" + ResourceName(o.Run, h.VPC+"-"+h.Subnet)),
				NetworkIP:  proto.String(h.IP.String())}},
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
				InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(o.Image), DiskSizeGb: proto.Int64(10)}}},
			ServiceAccounts: []*computepb.ServiceAccount{{Email: proto.String("default"),
				Scopes: []string{"https://www.googleapis.com/auth/devstorage.read_only", "https://www.googleapis.com/auth/logging.write"}}},
			ShieldedInstanceConfig: &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(true)}}
		var op *compute.Operation
		err := retry(ctx, func() (err error) {
			op, err = c.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: p, Zone: zone, RequestId: requestID(), InstanceResource: inst})
			return err
		})
		if err == nil {
			err = c.waitZone(ctx, zone, op)
		}
		if err := step("instance "+name+" ("+h.Name+")", err, t0); err != nil {
			return nil, err
		}
		out.Hosts[h.Name] = ProvisionedHost{Zone: zone, Instance: name}
	}
	for _, ph := range out.Hosts {
		t0 := time.Now()
		if err := c.waitAgent(ctx, ph.Zone, ph.Instance, ""); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "provision: agent of %s up in %.1fs\n", ph.Instance, time.Since(t0).Seconds())
	}
	out.Took = time.Since(start)
	return out, nil
}

// Teardown deletes everything of a run, in dependency order (the janitor's way, for one run
// and any age).
func (c *Cloud) Teardown(ctx context.Context, run string, log io.Writer) error {
	found, err := c.FindLeftovers(ctx, JanitorOptions{Run: run})
	if err != nil {
		return err
	}
	return c.DeleteLeftovers(ctx, found, log)
}

// firewallOf is a topology rule as an INGRESS Firewall (name, network and description unset).
func firewallOf(r *topology.Rule) *computepb.Firewall {
	fw := &computepb.Firewall{Direction: proto.String("INGRESS"), Priority: proto.Int32(int32(r.Priority)), TargetTags: r.TargetTags}
	if r.Priority == 0 {
		fw.Priority = proto.Int32(1000)
	}
	for _, s := range r.Sources {
		fw.SourceRanges = append(fw.SourceRanges, s.String())
	}
	byProto := map[string][]string{}
	var order []string
	for _, pr := range r.Ports {
		proto := pr.Proto
		if _, ok := byProto[proto]; !ok {
			order = append(order, proto)
			byProto[proto] = nil
		}
		switch {
		case pr.Lo == 0:
		case pr.Lo == pr.Hi:
			byProto[proto] = append(byProto[proto], strconv.Itoa(int(pr.Lo)))
		default:
			byProto[proto] = append(byProto[proto], fmt.Sprintf("%d-%d", pr.Lo, pr.Hi))
		}
	}
	for _, pname := range order {
		if r.Deny {
			fw.Denied = append(fw.Denied, &computepb.Denied{IPProtocol: proto.String(pname), Ports: byProto[pname]})
		} else {
			fw.Allowed = append(fw.Allowed, &computepb.Allowed{IPProtocol: proto.String(pname), Ports: byProto[pname]})
		}
	}
	return fw
}

// waitAgent waits until an instance's agent has announced itself with another value than before.
func (c *Cloud) waitAgent(ctx context.Context, zone, instance, before string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	for {
		now, err := c.GuestAttributes(ctx, zone, instance, agent.GuestNamespace+"/")
		if err != nil {
			return err
		}
		if v, ok := now[agent.ReadyKey]; ok && v != before {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gcp: the agent on %s did not announce itself: %w%s", instance, ctx.Err(), c.serialTail(zone, instance))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// SerialPortOutput is what an instance printed on its serial console (its boot and startup
// script).
func (c *Cloud) SerialPortOutput(ctx context.Context, zone, instance string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var out *computepb.SerialPortOutput
	err := retry(ctx, func() (err error) {
		out, err = c.instances.GetSerialPortOutput(ctx, &computepb.GetSerialPortOutputInstanceRequest{Project: c.cfg.Project, Zone: zone, Instance: instance})
		return err
	})
	if err != nil {
		return "", wrap("serial port output of "+instance, err)
	}
	return out.GetContents(), nil
}

// serialTail is the end of an instance's serial console, for an error message; "" when it
// cannot be read.
func (c *Cloud) serialTail(zone, instance string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.SerialPortOutput(ctx, zone, instance)
	if err != nil || strings.TrimSpace(out) == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\nthe end of its serial console:\n  " + strings.Join(lines, "\n  ")
}
