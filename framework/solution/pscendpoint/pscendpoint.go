// Package pscendpoint is solution 3 for a cluster whose control plane has a Private Service
// Connect endpoint (GKE 1.29 and later): the endpoint is an address of a subnet of the
// cluster's own VPC, so no non-transitive peering stands between it and the third-party cloud,
// and the access path needs only what a subnet address needs:
//   - the Cloud Router of the interconnect or VPN announces the endpoint's subnet (a CUSTOM
//     range when the subnet is not one of the router's own VPC's);
//   - the cluster's control plane global access is on when the third-party traffic enters
//     GCP in another region than the endpoint's (the attachment's or tunnel's region);
//   - the master authorized networks hold the third-party range when they apply to the
//     private endpoint;
//   - a ServiceAccount-token kubeconfig for the third-party VM, against the endpoint address,
//     trusting the cluster CA.
//
// Apply changes only what is missing and records what it changed in a ConfigMap of the
// cluster, so Remove restores exactly that. Every cloud call goes through
// provider.EndpointCloud: the same on the lab (through its GCP API) and on GCP.
package pscendpoint

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"

	"reachgate/framework/cloud"
	"reachgate/framework/kubeconfig"
	"reachgate/framework/provider"
	"reachgate/framework/solution"
	"reachgate/framework/topology"
)

const (
	// Name is the solution's name on the command line and in reports.
	Name = "psc-endpoint"
	// ServiceAccount and ClusterRoleName are the third-party VM's identity in the cluster.
	ServiceAccount  = "psc-endpoint-reader"
	ClusterRoleName = "reachgate-psc-endpoint-reader"
	// RecordName is the ConfigMap (in kube-system) holding what Apply changed.
	RecordName = "reachgate-psc-endpoint"
	recordKey  = "changes.json"
)

// Options for Apply and Remove.
type Options = solution.Options

// Plan is what the access path needs, as Apply found it, and what it changed.
type Plan struct {
	Client   string     `json:"client"`   // the third-party client host
	Source   string     `json:"source"`   // its subnet range
	Endpoint netip.Addr `json:"endpoint"` // the control plane's internal endpoint
	// EndpointRange is the endpoint subnet's range, EndpointRegion its (the cluster's) region.
	EndpointRange  string `json:"endpointRange"`
	EndpointRegion string `json:"endpointRegion"`
	// Network, Router and RouterRegion are the GCP side of the third-party cloud's uplink.
	Network      string `json:"network"`
	Router       string `json:"router"`
	RouterRegion string `json:"routerRegion"`
	// Changes are what Apply changed, with the values before, for Remove.
	Changes Changes `json:"changes"`
}

// Changes records the cloud settings Apply changed, each with its value before.
type Changes struct {
	Advertisement *topology.Advertisement   `json:"advertisement,omitempty"`
	GlobalAccess  *bool                     `json:"globalAccess,omitempty"`
	Authorized    *cloud.AuthorizedNetworks `json:"authorizedNetworks,omitempty"`
}

// Count is how many cloud settings Apply changed.
func (c Changes) Count() int {
	n := 0
	for _, set := range []bool{c.Advertisement != nil, c.GlobalAccess != nil, c.Authorized != nil} {
		if set {
			n++
		}
	}
	return n
}

// Result is what the third-party VM needs. Token is a secret: never log it.
type Result struct {
	Server     string // https://<endpoint>
	Endpoint   netip.Addr
	CAPEM      []byte // the cluster CA, which signed the endpoint's certificate
	Kubeconfig []byte
	Token      string
	Expires    time.Time
	Plan       Plan
	Seconds    float64
}

// clients returns the admin clientset and the endpoint side of the environment's cloud.
func clients(env provider.Environment) (kubernetes.Interface, provider.Cloud, provider.EndpointCloud, error) {
	return solution.CloudWith[provider.EndpointCloud](env, provider.AbilityText[provider.EndpointCloud]())
}

// Survey finds the access path's parts: the cluster's endpoint and its subnet, the
// third-party client and the Cloud Router its traffic enters GCP by. It changes nothing.
func Survey(ctx context.Context, t *topology.Topology, cl provider.Cloud, ec provider.EndpointCloud) (Plan, cloud.ClusterDescription, error) {
	info, err := cl.Cluster(ctx)
	if err != nil {
		return Plan{}, info, fmt.Errorf("describe cluster: %w", err)
	}
	if info.PrivateEndpointSubnetwork == "" {
		return Plan{}, info, fmt.Errorf("cluster %s has its endpoint %s in master range %s, joined by peering %s: %s needs a Private Service Connect cluster "+
			"(endpoint mode psc); for this one apply ilb-proxy or bgp-export", info.Name, info.PrivateEndpoint, info.MasterCIDR, info.PeeringName, Name)
	}
	p := Plan{Endpoint: info.PrivateEndpoint, EndpointRegion: info.Region}
	if n := t.Network(info.Network); n != nil {
		if s := n.Subnet(info.PrivateEndpointSubnetwork); s != nil {
			p.EndpointRange = s.CIDR.String()
		}
	}
	if p.EndpointRange == "" {
		return p, info, fmt.Errorf("%s: the topology has no subnet %s in VPC %s, the cluster's endpoint subnet (import the project again: reachgate gcp import)",
			t.Source, info.PrivateEndpointSubnetwork, info.Network)
	}
	up, err := solution.ThirdPartyUplink(t, Name)
	if err != nil {
		return p, info, err
	}
	p.Client, p.Source, p.Network, p.Router = up.Client.Name, up.Source.String(), up.Network, up.Router
	r, err := ec.GetRouter(ctx, p.Network, p.Router)
	if err != nil {
		return p, info, fmt.Errorf("get router %s: %w", p.Router, err)
	}
	p.RouterRegion = r.Region
	return p, info, nil
}

// Announces reports whether a router of network with advertisement a announces subnet range
// r of VPC vpc: by DEFAULT (or the ALL_SUBNETS group) only its own VPC's subnets, otherwise a
// custom range holding r.
func Announces(a topology.Advertisement, network, vpc string, r netip.Prefix) bool {
	if a.Mode != topology.AdvertiseCustom {
		return network == vpc
	}
	if network == vpc && slices.Contains(a.Groups, topology.GroupAllSubnets) {
		return true
	}
	return slices.ContainsFunc(a.Ranges, func(p netip.Prefix) bool { return p.Bits() <= r.Bits() && p.Contains(r.Addr()) })
}

// Apply makes the endpoint reachable from the third-party client and hands it a kubeconfig.
// It is idempotent: a second Apply changes nothing more and keeps the first record.
func Apply(ctx context.Context, env provider.Environment, o Options) (*Result, error) {
	o.Defaults()
	start := time.Now()
	cs, cl, ec, err := clients(env)
	if err != nil {
		return nil, err
	}
	p, info, err := Survey(ctx, env.Topology(), cl, ec)
	if err != nil {
		return nil, err
	}
	prev, err := readRecord(ctx, cs)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		p.Changes = prev.Changes
	}
	endpointRange, source := netip.MustParsePrefix(p.EndpointRange), netip.MustParsePrefix(p.Source)

	r, err := ec.GetRouter(ctx, p.Network, p.Router)
	if err != nil {
		return nil, fmt.Errorf("get router %s: %w", p.Router, err)
	}
	if !Announces(r.Advertise, p.Network, info.Network, endpointRange) {
		before := r.Advertise
		a := solution.WithRange(before, endpointRange)
		if err := ec.PatchRouter(ctx, cloud.RouterPatch{Network: p.Network, Router: p.Router, Advertise: &a}); err != nil {
			return nil, fmt.Errorf("patch router %s: %w", p.Router, err)
		}
		if p.Changes.Advertisement == nil {
			p.Changes.Advertisement = &before
		}
		o.Log.Info("router announces the endpoint subnet", "router", p.Router, "range", endpointRange)
	}
	if !info.MasterGlobalAccess && p.RouterRegion != p.EndpointRegion {
		if err := ec.SetMasterGlobalAccess(ctx, true); err != nil {
			return nil, fmt.Errorf("control plane global access: %w", err)
		}
		if p.Changes.GlobalAccess == nil {
			p.Changes.GlobalAccess = new(bool)
		}
		o.Log.Info("control plane global access on", "because", fmt.Sprintf("traffic enters in %s, the endpoint is in %s", p.RouterRegion, p.EndpointRegion))
	}
	an, err := ec.GetAuthorizedNetworks(ctx)
	if err != nil {
		return nil, fmt.Errorf("get authorized networks: %w", err)
	}
	if an.Enabled && an.PrivateEndpointEnforcement && !slices.ContainsFunc(an.CIDRBlocks, func(b netip.Prefix) bool {
		return b.Bits() <= source.Bits() && b.Contains(source.Addr())
	}) {
		before := an
		an.CIDRBlocks = append(slices.Clone(an.CIDRBlocks), source)
		if err := ec.SetAuthorizedNetworks(ctx, an); err != nil {
			return nil, fmt.Errorf("set authorized networks: %w", err)
		}
		if p.Changes.Authorized == nil {
			p.Changes.Authorized = &before
		}
		o.Log.Info("authorized networks hold the third-party range", "range", source)
	}
	if err := writeRecord(ctx, cs, p); err != nil {
		return nil, err
	}
	res := &Result{Server: "https://" + info.PrivateEndpoint.String(), Endpoint: info.PrivateEndpoint, CAPEM: info.CAPEM, Plan: p}
	req := solution.ReaderAccess(o, ServiceAccount, ClusterRoleName)
	req.ClusterName, req.Server, req.CAPEM = info.Name, res.Server, res.CAPEM
	kc, err := kubeconfig.Create(ctx, cs, req)
	if err != nil {
		return nil, err
	}
	res.Kubeconfig, res.Token, res.Expires = kc.Kubeconfig, kc.Token, kc.Expires
	res.Seconds = time.Since(start).Seconds()
	o.Log.Info("psc-endpoint applied", "server", res.Server, "cloud changes", p.Changes.Count(), "seconds", fmt.Sprintf("%.1f", res.Seconds))
	return res, nil
}

// Remove restores what Apply changed and deletes the third-party VM's access. Without a
// record (nothing applied) it only deletes the access objects.
func Remove(ctx context.Context, env provider.Environment, o Options) error {
	o.Defaults()
	cs, _, ec, err := clients(env)
	if err != nil {
		return err
	}
	p, err := readRecord(ctx, cs)
	if err != nil {
		return err
	}
	var errs []error
	if p != nil {
		c := p.Changes
		if c.Authorized != nil {
			errs = append(errs, solution.Wrap("restore authorized networks", ec.SetAuthorizedNetworks(ctx, *c.Authorized)))
		}
		if c.GlobalAccess != nil {
			errs = append(errs, solution.Wrap("restore control plane global access", ec.SetMasterGlobalAccess(ctx, *c.GlobalAccess)))
		}
		if c.Advertisement != nil {
			errs = append(errs, solution.Wrap("restore router "+p.Router, ec.PatchRouter(ctx, cloud.RouterPatch{Network: p.Network, Router: p.Router, Advertise: c.Advertisement})))
		}
		o.Log.Info("psc-endpoint cloud changes restored", "count", c.Count())
	}
	return solution.FinishRemove(ctx, cs, solution.ReaderAccess(o, ServiceAccount, ClusterRoleName), RecordName, errs)
}

// readRecord returns the plan Apply recorded, or nil when there is none.
func readRecord(ctx context.Context, cs kubernetes.Interface) (*Plan, error) {
	return solution.ReadRecord[Plan](ctx, cs, RecordName, recordKey)
}

// writeRecord stores p in the ConfigMap RecordName.
func writeRecord(ctx context.Context, cs kubernetes.Interface, p Plan) error {
	return solution.WriteRecord(ctx, cs, RecordName, recordKey, p)
}

// CloudFootprint lists the cloud settings Apply changed (it creates no cloud resource): the
// router's advertisement, control plane global access, the authorized networks.
func (r *Result) CloudFootprint() []string {
	var out []string
	c := r.Plan.Changes
	if c.Advertisement != nil {
		out = append(out, "router/"+r.Plan.Router+" advertisement")
	}
	if c.GlobalAccess != nil {
		out = append(out, "cluster masterGlobalAccess")
	}
	if c.Authorized != nil {
		out = append(out, "cluster masterAuthorizedNetworks")
	}
	return out
}
