// Package bgpexport is the article's Solution 2: an HA VPN (4 tunnels, 4 BGP sessions) from
// the third-party cloud into the GKE VPC, the Cloud Router announcing the master range, and
// the GKE peering exporting the GKE VPC's custom routes, so the third-party VM reaches the
// private endpoint directly. Cloud steps go through provider.VPNCloud, Kubernetes steps
// through client-go: the same code for every provider.
package bgpexport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reachgate/framework/cloud"
	"slices"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/framework/kubeconfig"
	"reachgate/framework/provider"
	"reachgate/framework/solution"
	"reachgate/framework/topology"
)

// Variant is how the solution is applied.
type Variant string

// Variants: the article's steps as written, and what reachgate recommends.
const (
	Seed     Variant = "seed"
	Hardened Variant = "hardened"
)

// Names of what Apply creates in the cluster.
const (
	ServiceAccount  = "reachgate-bgp-export"
	ClusterRoleName = "reachgate-bgp-export-reader"
)

// Options for Apply and Remove.
type Options struct {
	Variant Variant
	// Link is the topology's bgp-export link to create; default the only one.
	Link     string
	TokenTTL time.Duration // default 24h
	// SessionTimeout bounds the wait for every BGP session to be Established (default 60 s).
	SessionTimeout time.Duration
	Log            *slog.Logger
	// Service also reaches the consumer VPC's managed services over Private Service Access
	// ("redis": Memorystore): the allocated ranges are advertised and the VPC's side of the
	// servicenetworking peering exports custom routes, the same fix as the GKE peering's.
	Service string
}

func (o *Options) defaults() {
	if o.Variant == "" {
		o.Variant = Hardened
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Plan is what Apply creates, derived from the topology's link.
type Plan struct {
	Link        string
	Network     string // the GKE VPC
	Region      string
	Router      string // the Cloud Router
	Gateway     string // the HA VPN gateway
	PeerGateway string // the third-party cloud's gateway
	PeerNetwork string // the third-party cloud's VPC
	PeerRouter  string // the third-party cloud's BGP router
	PeerASN     uint32
	PeerRanges  []netip.Prefix // the third-party VPC's ranges
	Tunnels     []string
	Peers       []cloud.RouterBgpPeer
	// ServicePeering is the VPC's Private Service Access peering (servicenetworking-googleapis-com)
	// and ServiceRanges its allocated ranges, when the topology declares them.
	ServicePeering string
	ServiceRanges  []netip.Prefix
	// ServiceFlags are the VPC's side of ServicePeering as the topology declares it.
	ServiceFlags cloud.NetworkPeering
}

// NewPlan names the gateways, tunnels and BGP peers for the bgp-export link of t. GCP's
// 99.99 % topology: HA VPN interface 0 to peer interfaces 0 and 1, interface 1 to 2 and 3.
// Each session uses a /30 of 169.254.10.0/24: the Cloud Router takes .1, the peer .2.
func NewPlan(t *topology.Topology, link string) (Plan, error) {
	var l *topology.Connection
	for _, c := range t.Links {
		if c.Solution == topology.SolutionBGPExport && (link == "" || c.Name == link) {
			if l != nil {
				return Plan{}, fmt.Errorf("topology %s has several bgp-export links (%s, %s): choose one", t.Name, l.Name, c.Name)
			}
			l = c
		}
	}
	if l == nil {
		return Plan{}, fmt.Errorf("topology %s declares no vpn link with solution: bgp-export (see fixtures/topologies/bgp-export.yaml)", t.Name)
	}
	gcp, peer := l.A, l.B
	if !t.Network(gcp.VPC).GCP() {
		gcp, peer = peer, gcp
	}
	r := t.Network(gcp.VPC).Router(gcp.Router)
	p := Plan{Link: l.Name, Network: gcp.VPC, Region: r.Region, Router: gcp.Router, Gateway: gcp.Gateway,
		PeerGateway: peer.Gateway, PeerNetwork: peer.VPC, PeerRouter: peer.Router, PeerASN: t.Network(peer.VPC).Router(peer.Router).ASN}
	for _, s := range t.Network(peer.VPC).Subnets {
		p.PeerRanges = append(p.PeerRanges, s.Prefixes()...)
	}
	p.ServiceRanges = namedPrefixes(t.Network(gcp.VPC).Allocated)
	for _, c := range t.Links {
		if c.Type == topology.LinkPeering && c.Name == topology.PeeringServiceNetworking && (c.A.VPC == gcp.VPC || c.B.VPC == gcp.VPC) {
			me, _ := c.Side(gcp.VPC)
			p.ServicePeering = c.Name
			p.ServiceFlags = cloud.NetworkPeering{Network: gcp.VPC, Name: c.Name, ExportCustomRoutes: me.ExportCustomRoutes, ImportCustomRoutes: me.ImportCustomRoutes}
		}
	}
	base := netip.MustParseAddr("169.254.10.0").As4()
	for k := range l.Tunnels {
		name := fmt.Sprintf("%s-tunnel-%d", l.Name, k)
		b := base
		b[3] = byte(4*k + 1)
		ip := netip.AddrFrom4(b)
		p.Tunnels = append(p.Tunnels, name)
		p.Peers = append(p.Peers, cloud.RouterBgpPeer{Name: fmt.Sprintf("%s-bgp-peer-%d", l.Name, k), Tunnel: name,
			IPAddress: ip, PeerIPAddress: ip.Next(), PeerAsn: p.PeerASN, AdvertisedRoutePriority: 100})
	}
	return p, nil
}

// ThirdPartyEnd is the third-party cloud's end of the plan's HA VPN.
func (p Plan) ThirdPartyEnd() cloud.ThirdPartyVPN {
	return cloud.ThirdPartyVPN{Link: p.Link, Gateway: p.Gateway, Region: p.Region, Network: p.Network, Router: p.Router,
		PeerGateway: p.PeerGateway, PeerVPC: p.PeerNetwork, PeerRouter: p.PeerRouter, Tunnels: len(p.Tunnels)}
}

func namedPrefixes(rs []topology.NamedRange) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range rs {
		out = append(out, r.CIDR)
	}
	return out
}

// Result is what Apply did and what the third-party VM needs. Token is a secret: never log it.
type Result struct {
	Plan       Plan
	Server     string // https://<private endpoint>
	CAPEM      []byte
	Kubeconfig []byte
	Token      string
	Seconds    float64
	// Notes record what the variant did that is not needed or not enough.
	Notes []string
	// Authorized is true when Apply added the third-party ranges to the authorized networks.
	Authorized bool
}

func clients(env provider.Environment) (kubernetes.Interface, provider.Cloud, provider.VPNCloud, error) {
	return solution.CloudWith[provider.VPNCloud](env, "the provider's cloud has no HA VPN and Cloud Router operations")
}

// Apply creates the HA VPN and BGP sessions, announces the master range, exports the GKE
// VPC's custom routes over the GKE peering and (hardened) authorizes the third-party ranges
// on the private endpoint; it waits until every session is Established.
func Apply(ctx context.Context, env provider.Environment, o Options) (*Result, error) {
	o.defaults()
	if o.Variant != Hardened && o.Variant != Seed {
		return nil, fmt.Errorf("variant %q: choose %q or %q", o.Variant, Seed, Hardened)
	}
	start := time.Now()
	cs, cl, vc, err := clients(env)
	if err != nil {
		return nil, err
	}
	info, err := cl.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	plan, err := NewPlan(env.Topology(), o.Link)
	if err != nil {
		return nil, err
	}
	if err := plan.checkService(o.Service); err != nil {
		return nil, err
	}
	res := &Result{Plan: plan, Server: "https://" + info.PrivateEndpoint.String(), CAPEM: info.CAPEM}
	log := o.Log.With("solution", "bgp-export", "variant", o.Variant)

	// Step 1: HA VPN gateway, the peer gateway, four tunnels.
	if err := vc.InsertVpnGateway(ctx, cloud.VpnGateway{Name: plan.Gateway, Network: plan.Network, Region: plan.Region}); err != nil {
		return nil, err
	}
	// Step 1b: the third-party cloud's end, which needs the HA VPN gateway's addresses (in AWS:
	// customer gateways and VPN connections), where the environment configures that cloud.
	if tp, ok := env.(provider.ThirdPartyVPN); ok {
		if err := tp.ConnectThirdPartyVPN(ctx, plan.ThirdPartyEnd()); err != nil {
			return nil, err
		}
	}
	if err := vc.InsertExternalVpnGateway(ctx, cloud.ExternalVpnGateway{Name: plan.PeerGateway, RedundancyType: "FOUR_IPS_REDUNDANCY"}); err != nil {
		return nil, err
	}
	for k, name := range plan.Tunnels {
		err := vc.InsertVpnTunnel(ctx, cloud.VpnTunnel{Name: name, Region: plan.Region, VpnGateway: plan.Gateway,
			VpnGatewayInterface: k / 2, PeerExternalGateway: plan.PeerGateway, PeerExternalGatewayInterface: k, Router: plan.Router})
		if err != nil && !alreadyExists(err) {
			return nil, err
		}
	}
	log.Info("HA VPN created", "gateway", plan.Gateway, "tunnels", len(plan.Tunnels))
	// Step 2: four BGP sessions on the Cloud Router.
	if err := vc.PatchRouter(ctx, cloud.RouterPatch{Network: plan.Network, Router: plan.Router, BgpPeers: &plan.Peers}); err != nil {
		return nil, err
	}
	// Step 3: CUSTOM advertisement: the VPC's subnets and the master range (a peering route,
	// which DEFAULT never announces).
	adv := topology.Advertisement{Mode: topology.AdvertiseCustom, Groups: []string{topology.GroupAllSubnets}, Ranges: []netip.Prefix{info.MasterCIDR}}
	if o.Service != "" {
		// The managed services' ranges are peering routes too: only a custom range announces them.
		adv.Ranges = append(adv.Ranges, plan.ServiceRanges...)
	}
	if err := vc.PatchRouter(ctx, cloud.RouterPatch{Network: plan.Network, Router: plan.Router, Advertise: &adv}); err != nil {
		return nil, err
	}
	// Step 4: the GKE peering exports the VPC's custom routes (the learned third-party range)
	// to the master VPC, whose Google-managed side already imports them.
	pe, err := vc.GetPeering(ctx, plan.Network, info.PeeringName)
	if err != nil {
		return nil, err
	}
	pe.ExportCustomRoutes = true
	if o.Variant == Seed {
		// The article ticks import as well; nothing the master VPC exports needs it.
		pe.ImportCustomRoutes = true
		res.Notes = append(res.Notes, fmt.Sprintf("importCustomRoutes set on %s as the article does; not needed: the master VPC exports no custom routes", info.PeeringName))
	}
	if err := vc.UpdatePeering(ctx, pe); err != nil {
		return nil, err
	}
	// Step 4b (with a service): the same export on the servicenetworking peering, so the
	// producer VPC learns the third-party range and the service can answer.
	if o.Service != "" {
		sp, err := vc.GetPeering(ctx, plan.Network, plan.ServicePeering)
		if err != nil {
			return nil, err
		}
		sp.ExportCustomRoutes = true
		if o.Variant == Seed {
			sp.ImportCustomRoutes = true
		}
		if err := vc.UpdatePeering(ctx, sp); err != nil {
			return nil, err
		}
		log.Info("managed services reachable", "peering", plan.ServicePeering, "ranges", plan.ServiceRanges)
	}
	// Step 5 (hardened): the third-party ranges may reach the private endpoint.
	if o.Variant == Hardened {
		an, err := vc.GetAuthorizedNetworks(ctx)
		if err != nil {
			return nil, err
		}
		if an.Enabled {
			for _, r := range plan.PeerRanges {
				if !slices.Contains(an.CIDRBlocks, r) {
					an.CIDRBlocks = append(an.CIDRBlocks, r)
				}
			}
			if err := vc.SetAuthorizedNetworks(ctx, an); err != nil {
				return nil, err
			}
			res.Authorized = true
		}
	} else {
		res.Notes = append(res.Notes, "the article does not add the third-party range to master authorized networks; where they are enforced on the private endpoint, the VM is refused")
	}
	if err := waitSessions(ctx, vc, plan, len(plan.Peers), o.SessionTimeout); err != nil {
		return nil, err
	}
	log.Info("BGP sessions established", "router", plan.Router, "sessions", len(plan.Peers))
	kc, err := kubeconfig.Create(ctx, cs, kubeconfig.Request{ServiceAccount: ServiceAccount, ClusterRole: ClusterRoleName,
		Rules: kubeconfig.NodeReader, NamespaceRules: map[string][]rbacv1.PolicyRule{"kube-system": kubeconfig.ClusterInfoRules},
		TokenTTL: o.TokenTTL, ClusterName: info.Name, Server: res.Server, CAPEM: info.CAPEM})
	if err != nil {
		return nil, err
	}
	res.Kubeconfig, res.Token = kc.Kubeconfig, kc.Token
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Services are the managed-service kinds Apply can reach.
var Services = []string{topology.ServiceRedis}

// checkService says why the plan cannot reach service ("" is always fine).
func (p Plan) checkService(service string) error {
	switch {
	case service == "":
		return nil
	case !slices.Contains(Services, service):
		return fmt.Errorf("service %q: choose one of %s", service, strings.Join(Services, ", "))
	case p.ServicePeering == "" || len(p.ServiceRanges) == 0:
		return fmt.Errorf("service %s: VPC %s declares no Private Service Access (allocatedRanges and a peering %s to a servicenetworking VPC)",
			service, p.Network, topology.PeeringServiceNetworking)
	}
	return nil
}

func alreadyExists(err error) bool {
	return err != nil && strings.Contains(err.Error(), "already exists")
}

// waitSessions waits until want sessions of the plan's router are UP.
func waitSessions(ctx context.Context, vc provider.VPNCloud, plan Plan, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last cloud.RouterStatus
	for {
		st, err := vc.GetRouterStatus(ctx, plan.Network, plan.Router)
		if err == nil {
			last = st
			if st.Up() >= want {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router %s: %d of %d BGP sessions up after %v (status %+v)", plan.Router, last.Up(), want, timeout, last.BGPPeerStatus)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Remove undoes Apply: BGP peers, tunnels and gateways go; the advertisement returns to
// DEFAULT, the GKE peering's customer side to no custom routes, and the third-party ranges
// leave the authorized networks.
func Remove(ctx context.Context, env provider.Environment, o Options) error {
	o.defaults()
	cs, cl, vc, err := clients(env)
	if err != nil {
		return err
	}
	info, err := cl.Cluster(ctx)
	if err != nil {
		return err
	}
	plan, err := NewPlan(env.Topology(), o.Link)
	if err != nil {
		return err
	}
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	none := []cloud.RouterBgpPeer{}
	adv := topology.Advertisement{Mode: topology.AdvertiseDefault}
	keep(vc.PatchRouter(ctx, cloud.RouterPatch{Network: plan.Network, Router: plan.Router, BgpPeers: &none, Advertise: &adv}))
	for _, t := range plan.Tunnels {
		keep(vc.DeleteVpnTunnel(ctx, t))
	}
	keep(vc.DeleteVpnGateway(ctx, plan.Gateway))
	keep(vc.DeleteExternalVpnGateway(ctx, plan.PeerGateway))
	if tp, ok := env.(provider.ThirdPartyVPN); ok {
		keep(tp.DisconnectThirdPartyVPN(ctx, plan.Link))
	}
	keep(vc.UpdatePeering(ctx, cloud.NetworkPeering{Network: plan.Network, Name: info.PeeringName}))
	if plan.ServicePeering != "" {
		// Back to the flags the topology declares (Apply with a service changed them).
		keep(vc.UpdatePeering(ctx, plan.ServiceFlags))
	}
	if an, err := vc.GetAuthorizedNetworks(ctx); err == nil && an.Enabled {
		an.CIDRBlocks = slices.DeleteFunc(an.CIDRBlocks, func(p netip.Prefix) bool { return slices.Contains(plan.PeerRanges, p) })
		keep(vc.SetAuthorizedNetworks(ctx, an))
	}
	keep(kubeconfig.Delete(ctx, cs, kubeconfig.Request{ServiceAccount: ServiceAccount, ClusterRole: ClusterRoleName,
		NamespaceRules: map[string][]rbacv1.PolicyRule{"kube-system": kubeconfig.ClusterInfoRules}}))
	return errors.Join(errs...)
}

// CloudFootprint lists the cloud resources Apply created and the settings it changed: the HA
// VPN gateway and the peer gateway, the tunnels, the Cloud Router's BGP peers and
// advertisement, the GKE peering's custom route export and (hardened) the authorized networks.
func (r *Result) CloudFootprint() []string {
	out := []string{"vpnGateway/" + r.Plan.Gateway, "externalVpnGateway/" + r.Plan.PeerGateway}
	for _, t := range r.Plan.Tunnels {
		out = append(out, "vpnTunnel/"+t)
	}
	for _, p := range r.Plan.Peers {
		out = append(out, "router/"+r.Plan.Router+" bgpPeer "+p.Name)
	}
	out = append(out, "router/"+r.Plan.Router+" advertisement", "networkPeering exportCustomRoutes")
	if r.Authorized {
		out = append(out, "cluster masterAuthorizedNetworks")
	}
	return out
}
