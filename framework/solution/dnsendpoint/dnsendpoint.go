// Package dnsendpoint is solution 4: the cluster's DNS-based control plane endpoint
// (gke-<hash>.<region>.gke.goog), served by Google's API front end, which authorizes each
// caller's token by IAM rather than its source address. From another cloud it is reached over
// Private Google Access for on-premises hosts, and the access path needs:
//   - the Cloud Router of the interconnect or VPN announces private.googleapis.com
//     (199.36.153.8/30) in a CUSTOM advertisement (the VPC's route to the default internet
//     gateway carries the packets from there; no peering is involved);
//   - the third-party VPC's DNS maps *.gke.goog into that range (a private zone);
//   - the endpoint takes user traffic (dnsEndpointConfig.allowExternalTraffic);
//   - the caller's principal holds container.clusters.connect (IAM);
//   - a ServiceAccount-token kubeconfig for the third-party VM, against the DNS name, trusting
//     the front end's public chain (not the cluster CA).
//
// Apply changes only what is missing and records what it changed in a ConfigMap of the
// cluster, so Remove restores exactly that. Every cloud call goes through
// provider.DNSEndpointCloud.
package dnsendpoint

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"

	"reachgate/framework/cloud"
	"reachgate/framework/kubeconfig"
	"reachgate/framework/netmodel"
	"reachgate/framework/provider"
	"reachgate/framework/solution"
	"reachgate/framework/solution/pscendpoint"
	"reachgate/framework/topology"
)

const (
	// Name is the solution's name on the command line and in reports.
	Name = "dns-endpoint"
	// ServiceAccount and ClusterRoleName are the third-party VM's identity in the cluster.
	ServiceAccount  = "dns-endpoint-reader"
	ClusterRoleName = "reachgate-dns-endpoint-reader"
	// RecordName is the ConfigMap (in kube-system) holding what Apply changed.
	RecordName = "reachgate-dns-endpoint"
	recordKey  = "changes.json"
	// Zone is the private zone that maps GKE's DNS endpoints into private.googleapis.com.
	Zone = "gke.goog."
)

// Options for Apply and Remove.
type Options = solution.Options

// Plan is what the access path needs, as Apply found it, and what it changed.
type Plan struct {
	Client    string `json:"client"`    // the third-party client host
	ClientVPC string `json:"clientVPC"` // whose resolver holds the zone
	Endpoint  string `json:"endpoint"`  // the DNS name
	Principal string `json:"principal"` // the ServiceAccount's username, bound by IAM
	// Network and Router are the GCP side of the third-party cloud's uplink.
	Network string  `json:"network"`
	Router  string  `json:"router"`
	Changes Changes `json:"changes"`
}

// Changes records what Apply changed, each with its state before.
type Changes struct {
	Advertisement   *topology.Advertisement `json:"advertisement,omitempty"`
	ExternalTraffic *bool                   `json:"allowExternalTraffic,omitempty"`
	Granted         bool                    `json:"granted,omitempty"`
	// Zone is set when Apply wrote the zone; ZoneBefore is what it replaced (nil: none).
	Zone       bool               `json:"zone,omitempty"`
	ZoneBefore *cloud.PrivateZone `json:"zoneBefore,omitempty"`
}

// Count is how many cloud settings Apply changed.
func (c Changes) Count() int {
	n := 0
	for _, set := range []bool{c.Advertisement != nil, c.ExternalTraffic != nil, c.Granted, c.Zone} {
		if set {
			n++
		}
	}
	return n
}

// Result is what the third-party VM needs. Token is a secret: never log it.
type Result struct {
	Server     string // https://<DNS name>
	CAPEM      []byte // the front end's root; nil for the system's roots
	Kubeconfig []byte
	Token      string
	Expires    time.Time
	Plan       Plan
	Seconds    float64
}

func clients(env provider.Environment) (kubernetes.Interface, provider.Cloud, provider.DNSEndpointCloud, error) {
	return solution.CloudWith[provider.DNSEndpointCloud](env, provider.AbilityText[provider.DNSEndpointCloud]())
}

// Survey finds the access path's parts: the cluster's DNS endpoint, the third-party client
// and the Cloud Router its traffic enters GCP by. It changes nothing.
func Survey(ctx context.Context, t *topology.Topology, cl provider.Cloud) (Plan, cloud.ClusterDescription, error) {
	info, err := cl.Cluster(ctx)
	if err != nil {
		return Plan{}, info, fmt.Errorf("describe cluster: %w", err)
	}
	if info.DNSEndpoint == "" {
		return Plan{}, info, fmt.Errorf("cluster %s has no DNS-based endpoint: %s needs one (gcloud container clusters update %s --enable-dns-access; "+
			"in a topology, cluster.dnsEndpoint.enabled: true)", info.Name, Name, info.Name)
	}
	up, err := solution.ThirdPartyUplink(t, Name)
	if err != nil {
		return Plan{}, info, err
	}
	return Plan{Client: up.Client.Name, ClientVPC: up.Client.VPC, Endpoint: info.DNSEndpoint, Network: up.Network, Router: up.Router}, info, nil
}

// zone is the private zone Apply writes: every gke.goog name to private.googleapis.com.
func zone() cloud.PrivateZone {
	var a []netip.Addr
	for ip := netmodel.PrivateGoogleAPIs.Addr(); netmodel.PrivateGoogleAPIs.Contains(ip); ip = ip.Next() {
		a = append(a, ip)
	}
	return cloud.PrivateZone{Name: Zone, Records: []cloud.DNSRecord{{Name: "*." + Zone, A: a}}}
}

// Maps reports whether z answers name with private.googleapis.com addresses.
func Maps(z cloud.PrivateZone, name string) bool {
	for _, r := range z.Records {
		if r.Name == name+"." || r.Name == name || r.Name == "*."+Zone {
			return len(r.A) > 0 && !slices.ContainsFunc(r.A, func(a netip.Addr) bool { return !netmodel.PrivateGoogleAPIs.Contains(a) })
		}
	}
	return false
}

// Apply makes the DNS endpoint reachable and usable from the third-party client and hands it a
// kubeconfig. It is idempotent: a second Apply changes nothing more and keeps the first record.
func Apply(ctx context.Context, env provider.Environment, o Options) (*Result, error) {
	o.Defaults()
	start := time.Now()
	cs, cl, dc, err := clients(env)
	if err != nil {
		return nil, err
	}
	p, info, err := Survey(ctx, env.Topology(), cl)
	if err != nil {
		return nil, err
	}
	prev, err := solution.ReadRecord[Plan](ctx, cs, RecordName, recordKey)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		p.Changes = prev.Changes
	}
	p.Principal = "system:serviceaccount:" + o.Namespace + ":" + ServiceAccount
	// Record before each change, so a failure halfway leaves what Remove needs.
	record := func() error { return solution.WriteRecord(ctx, cs, RecordName, recordKey, p) }

	r, err := dc.GetRouter(ctx, p.Network, p.Router)
	if err != nil {
		return nil, fmt.Errorf("get router %s: %w", p.Router, err)
	}
	if !pscendpoint.Announces(r.Advertise, p.Network, "", netmodel.PrivateGoogleAPIs) {
		before := r.Advertise
		a := solution.WithRange(before, netmodel.PrivateGoogleAPIs)
		if p.Changes.Advertisement == nil {
			p.Changes.Advertisement = &before
		}
		if err := record(); err != nil {
			return nil, err
		}
		if err := dc.PatchRouter(ctx, cloud.RouterPatch{Network: p.Network, Router: p.Router, Advertise: &a}); err != nil {
			return nil, fmt.Errorf("patch router %s: %w", p.Router, err)
		}
		o.Log.Info("router announces private.googleapis.com", "router", p.Router, "range", netmodel.PrivateGoogleAPIs)
	}
	z, found, err := dc.PrivateZone(ctx, p.ClientVPC, Zone)
	if err != nil {
		return nil, fmt.Errorf("read private zone %s of vpc %s: %w", Zone, p.ClientVPC, err)
	}
	if !found || !Maps(z, p.Endpoint) {
		if !p.Changes.Zone {
			p.Changes.Zone = true
			if found {
				p.Changes.ZoneBefore = &z
			}
		}
		if err := record(); err != nil {
			return nil, err
		}
		if err := dc.SetPrivateZone(ctx, p.ClientVPC, zone()); err != nil {
			return nil, fmt.Errorf("private zone %s of vpc %s: %w", Zone, p.ClientVPC, err)
		}
		o.Log.Info("third-party DNS maps *.gke.goog", "vpc", p.ClientVPC, "to", netmodel.PrivateGoogleAPIs)
	}
	if !info.DNSAllowExternalTraffic {
		if p.Changes.ExternalTraffic == nil {
			p.Changes.ExternalTraffic = new(bool)
		}
		if err := record(); err != nil {
			return nil, err
		}
		if err := dc.SetDNSEndpointExternalTraffic(ctx, true); err != nil {
			return nil, fmt.Errorf("allow external traffic on the DNS endpoint: %w", err)
		}
		o.Log.Info("DNS endpoint takes user traffic", "endpoint", p.Endpoint)
	}
	principals, err := dc.ClusterConnectPrincipals(ctx)
	if err != nil {
		return nil, fmt.Errorf("read IAM bindings: %w", err)
	}
	if !slices.Contains(principals, p.Principal) {
		p.Changes.Granted = true
		if err := record(); err != nil {
			return nil, err
		}
		if err := dc.GrantClusterConnect(ctx, p.Principal); err != nil {
			return nil, fmt.Errorf("grant container.clusters.connect: %w", err)
		}
		o.Log.Info("IAM lets the third-party VM's principal connect", "principal", p.Principal)
	}
	if err := record(); err != nil {
		return nil, err
	}
	ca, err := dc.FrontEndCA(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Server: "https://" + p.Endpoint, CAPEM: ca, Plan: p}
	req := solution.ReaderAccess(o, ServiceAccount, ClusterRoleName)
	req.ClusterName, req.Server, req.CAPEM = info.Name, res.Server, ca
	kc, err := kubeconfig.Create(ctx, cs, req)
	if err != nil {
		return nil, err
	}
	res.Kubeconfig, res.Token, res.Expires = kc.Kubeconfig, kc.Token, kc.Expires
	res.Seconds = time.Since(start).Seconds()
	o.Log.Info("dns-endpoint applied", "server", res.Server, "cloud changes", p.Changes.Count(), "seconds", fmt.Sprintf("%.1f", res.Seconds))
	return res, nil
}

// Remove restores what Apply changed and deletes the third-party VM's access. Without a
// record (nothing applied) it only deletes the access objects.
func Remove(ctx context.Context, env provider.Environment, o Options) error {
	o.Defaults()
	cs, _, dc, err := clients(env)
	if err != nil {
		return err
	}
	p, err := solution.ReadRecord[Plan](ctx, cs, RecordName, recordKey)
	if err != nil {
		return err
	}
	var errs []error
	if p != nil {
		c := p.Changes
		if c.Granted {
			errs = append(errs, solution.Wrap("revoke container.clusters.connect", dc.RevokeClusterConnect(ctx, p.Principal)))
		}
		if c.ExternalTraffic != nil {
			errs = append(errs, solution.Wrap("restore allowExternalTraffic", dc.SetDNSEndpointExternalTraffic(ctx, *c.ExternalTraffic)))
		}
		if c.Zone {
			if c.ZoneBefore != nil {
				errs = append(errs, solution.Wrap("restore private zone "+Zone, dc.SetPrivateZone(ctx, p.ClientVPC, *c.ZoneBefore)))
			} else {
				errs = append(errs, solution.Wrap("delete private zone "+Zone, dc.DeletePrivateZone(ctx, p.ClientVPC, Zone)))
			}
		}
		if c.Advertisement != nil {
			errs = append(errs, solution.Wrap("restore router "+p.Router, dc.PatchRouter(ctx, cloud.RouterPatch{Network: p.Network, Router: p.Router, Advertise: c.Advertisement})))
		}
		o.Log.Info("dns-endpoint cloud changes restored", "count", c.Count())
	}
	return solution.FinishRemove(ctx, cs, solution.ReaderAccess(o, ServiceAccount, ClusterRoleName), RecordName, errs)
}

// CloudFootprint lists the cloud settings Apply changed (it creates no cloud resource besides
// the zone): the router's advertisement, the private zone, allowExternalTraffic, the IAM binding.
func (r *Result) CloudFootprint() []string {
	var out []string
	c := r.Plan.Changes
	if c.Advertisement != nil {
		out = append(out, "router/"+r.Plan.Router+" advertisement")
	}
	if c.Zone {
		out = append(out, "vpc/"+r.Plan.ClientVPC+" private zone "+Zone)
	}
	if c.ExternalTraffic != nil {
		out = append(out, "cluster dnsEndpointConfig.allowExternalTraffic")
	}
	if c.Granted {
		out = append(out, "iam container.clusters.connect "+r.Plan.Principal)
	}
	return out
}
