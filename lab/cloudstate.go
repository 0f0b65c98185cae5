package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"reachgate/framework/cloud"
	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab/dnsserver"
	"reachgate/lab/netns"
)

// CloudState is what cloud operations changed in the lab since it came up: the resources a
// solution created (VPN gateways, tunnels, BGP peers) and the settings it patched (router
// advertisements, peering flags, authorized networks). It lives in the lab's state directory
// (cloud.json, readable by root only: it holds the tunnels' keys), and the lab's effective
// topology is the file's with these changes applied.
type CloudState struct {
	VPNGateways      map[string]cloud.VpnGateway `json:"vpnGateways,omitempty"`
	ExternalGateways map[string]ExternalGateway  `json:"externalVpnGateways,omitempty"`
	Tunnels          map[string]VPNTunnel        `json:"vpnTunnels,omitempty"`
	// BGPPeers holds each router's bgpPeers, by "<vpc>/<router>".
	BGPPeers map[string][]cloud.RouterBgpPeer `json:"bgpPeers,omitempty"`
	// Interfaces holds each router's interfaces set explicitly, by "<vpc>/<router>".
	Interfaces map[string][]cloud.RouterInterface `json:"interfaces,omitempty"`
	// Advertisements override routers' advertisements, by "<vpc>/<router>".
	Advertisements map[string]topology.Advertisement `json:"advertisements,omitempty"`
	// Peerings override peering flags, by "<link>/<vpc>" (the side that set them).
	Peerings map[string]PeeringFlags `json:"peerings,omitempty"`
	// Firewalls are firewall rules inserted, patched or deleted through the API, by name
	// (rule names are global in a project): each replaces or removes the file's rule of that name.
	Firewalls map[string]FirewallChange `json:"firewalls,omitempty"`
	// Authorized overrides the cluster's master authorized networks when set.
	Authorized *cloud.AuthorizedNetworks `json:"authorizedNetworks,omitempty"`
	// GlobalAccess overrides the cluster's control plane global access when set.
	GlobalAccess *bool `json:"masterGlobalAccess,omitempty"`
	// DNSExternalTraffic overrides the DNS endpoint's allowExternalTraffic when set.
	DNSExternalTraffic *bool `json:"dnsAllowExternalTraffic,omitempty"`
	// ClusterConnect are the principals IAM lets call the cluster's DNS endpoint
	// (container.clusters.connect), as Kubernetes usernames.
	ClusterConnect []string `json:"clusterConnect,omitempty"`
	// PrivateZones are the DNS zones of each third-party VPC's resolver, by VPC.
	PrivateZones map[string][]dnsserver.Zone `json:"privateZones,omitempty"`
	// Networks and Instances are the VPCs and VMs the API inserted (apiresources.go).
	Networks  map[string]*APINetwork  `json:"networks,omitempty"`
	Instances map[string]*APIInstance `json:"instances,omitempty"`
	// APIPeerings are the peerings the API added, by PeeringKey.
	APIPeerings map[string]*APIPeering `json:"apiPeerings,omitempty"`
	// Attachments are the VLAN attachments the API inserted, by name (apiattachment.go).
	Attachments map[string]*APIAttachment `json:"interconnectAttachments,omitempty"`
	// PeerVPNs are the third-party ends of HA VPNs to the API's gateways, by link (apivpn.go).
	PeerVPNs map[string]*APIVPN `json:"peerVpns,omitempty"`
	// Cluster is the cluster the container API created (apicluster.go).
	Cluster *APICluster `json:"cluster,omitempty"`
}

// ExternalGateway is the peer side's VPN gateway (AWS: FOUR_IPS_REDUNDANCY) and the number of
// interfaces its redundancy type gives it.
type ExternalGateway struct {
	cloud.ExternalVpnGateway
	Interfaces int `json:"interfaces"`
}

// VPNTunnel is one HA VPN tunnel as inserted, with the lab's own records of it: the topology
// link it belongs to, its index there and the WireGuard keys the lab made for it.
type VPNTunnel struct {
	cloud.VpnTunnel
	Link    string `json:"link"`
	Index   int    `json:"index"`
	GCPKey  string `json:"gcpKey"`
	PeerKey string `json:"peerKey"`
	// Seq numbers a tunnel of an HA VPN pair between two of the API's VPCs (apivpn.go).
	Seq int `json:"seq,omitempty"`
}

// FirewallChange is a firewall rule of a VPC as the API set it; Deleted removes it.
type FirewallChange struct {
	Network string         `json:"network"`
	Rule    *topology.Rule `json:"rule,omitempty"`
	Deleted bool           `json:"deleted,omitempty"`
}

// PeeringFlags are one side's custom route flags of a peering.
type PeeringFlags struct {
	ExportCustomRoutes bool `json:"exportCustomRoutes"`
	ImportCustomRoutes bool `json:"importCustomRoutes"`
}

func (l *Lab) cloudPath() string { return l.State.Path("cloud.json") }

// LoadCloud reads the lab's cloud state (empty when nothing was changed).
func (l *Lab) LoadCloud() (*CloudState, error) {
	cs := &CloudState{}
	data, err := os.ReadFile(l.cloudPath())
	if errors.Is(err, os.ErrNotExist) {
		return cs, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, cs); err != nil {
		return nil, fmt.Errorf("%s: %w", l.cloudPath(), err)
	}
	return cs, nil
}

// UpdateCloud changes the cloud state under a lock (concurrent cloud calls from several
// processes serialize), then recomputes the model. It does not touch the network: call
// Reconcile for that.
func (l *Lab) UpdateCloud(fn func(*CloudState) error) error {
	f, err := os.OpenFile(l.State.Path("cloud.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	cs, err := l.LoadCloud()
	if err != nil {
		return err
	}
	if err := fn(cs); err != nil {
		return err
	}
	data, err := json.MarshalIndent(cs, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.cloudPath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, l.cloudPath()); err != nil {
		return err
	}
	return l.refreshModel(cs)
}

// refreshModel recomputes the effective topology and model from the cloud state.
func (l *Lab) refreshModel(cs *CloudState) error {
	if !cs.empty() || l.Plan == nil {
		l.Plan = netns.NewPlanWith(l.State.Name, Declared(l.Topology, cs), cs.fixed())
	}
	eff := Effective(l.Topology, cs)
	m, err := netmodel.Compute(eff)
	if err != nil {
		return err
	}
	l.Cloud, l.Current, l.Model = cs, eff, m
	l.cloudStamp = l.readCloudStamp()
	return nil
}

// cloudStamp identifies one version of cloud.json (every write is an atomic rename).
type cloudStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func (l *Lab) readCloudStamp() cloudStamp {
	fi, err := os.Stat(l.cloudPath())
	if err != nil {
		return cloudStamp{}
	}
	st := cloudStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}

// Refresh rereads what other processes may have changed since this Lab was read: the lab's
// state (processes, hosts) and its cloud state, whose model is recomputed only when cloud.json
// changed. The lab's GCP API and the CLI, and a suite's process, change one lab concurrently.
func (l *Lab) Refresh() error {
	if err := l.State.Reload(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if l.Cloud != nil && l.readCloudStamp() == l.cloudStamp {
		return nil
	}
	cs, err := l.LoadCloud()
	if err != nil {
		return err
	}
	return l.refreshModel(cs)
}

// lockReconcile serializes Reconcile across the processes that change one lab; call the
// returned function to unlock.
func (l *Lab) lockReconcile() (func(), error) {
	f, err := os.OpenFile(l.State.Path("reconcile.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = f.Close() }, nil
}

// effectiveFirewall is n's firewall with the API's changes: a changed rule replaces the
// file's rule of its name in place (or is added), a deleted one is dropped.
func effectiveFirewall(n *topology.Network, changes map[string]FirewallChange) ([]*topology.Rule, bool) {
	if len(changes) == 0 {
		return n.Firewall, false
	}
	var out []*topology.Rule
	seen := map[string]bool{}
	changed := false
	for _, r := range n.Firewall {
		c, ok := changes[r.Name]
		seen[r.Name] = true
		switch {
		case !ok:
			out = append(out, r)
		case c.Deleted || c.Network != n.Name:
			changed = true
		default:
			out, changed = append(out, c.Rule), true
		}
	}
	names := make([]string, 0, len(changes))
	for name := range changes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if c := changes[name]; !seen[name] && !c.Deleted && c.Network == n.Name && c.Rule != nil {
			out, changed = append(out, c.Rule), true
		}
	}
	return out, changed
}

// Effective returns the topology as the cloud state changed it: a solution's link exists
// once one of its tunnels has a BGP peer; routers announce their overridden advertisement;
// peerings carry their overridden flags; the cluster has its overridden authorized networks
// and control plane global access.
// t is not modified.
func Effective(t *topology.Topology, cs *CloudState) *topology.Topology {
	t = Declared(t, cs)
	up := map[string]bool{}
	for _, peers := range cs.BGPPeers {
		for _, p := range peers {
			if tn, ok := cs.Tunnels[p.Tunnel]; ok {
				up[tn.Link] = true
			}
		}
	}
	eff := t.Active(func(link string) bool { return up[link] })
	// Copy what is overridden, so t stays as the file says.
	eff.Networks = slices.Clone(eff.Networks)
	for i, n := range eff.Networks {
		changed := false
		routers := slices.Clone(n.Routers)
		for j, r := range routers {
			if a, ok := cs.Advertisements[n.Name+"/"+r.Name]; ok {
				c := *r
				c.Advertise = a
				routers[j], changed = &c, true
			}
		}
		firewall, fwChanged := effectiveFirewall(n, cs.Firewalls)
		if changed || fwChanged {
			c := *n
			c.Routers, c.Firewall = routers, firewall
			eff.Networks[i] = &c
		}
	}
	eff.Links = slices.Clone(eff.Links)
	for i, l := range eff.Links {
		a, aok := cs.Peerings[l.Name+"/"+l.A.VPC]
		b, bok := cs.Peerings[l.Name+"/"+l.B.VPC]
		if !aok && !bok {
			continue
		}
		c := *l
		if aok {
			c.A.ExportCustomRoutes, c.A.ImportCustomRoutes = a.ExportCustomRoutes, a.ImportCustomRoutes
		}
		if bok {
			c.B.ExportCustomRoutes, c.B.ImportCustomRoutes = b.ExportCustomRoutes, b.ImportCustomRoutes
		}
		eff.Links[i] = &c
	}
	if (cs.Authorized != nil || cs.GlobalAccess != nil || cs.DNSExternalTraffic != nil) && eff.Cluster != nil {
		c := *eff.Cluster
		if cs.Authorized != nil {
			c.Authorized = nil
			if cs.Authorized.Enabled {
				c.Authorized = &topology.Authorized{CIDRBlocks: cs.Authorized.CIDRBlocks,
					PrivateEndpointEnforcement: cs.Authorized.PrivateEndpointEnforcement}
			}
		}
		if cs.GlobalAccess != nil {
			c.GlobalAccess = *cs.GlobalAccess
		}
		if cs.DNSExternalTraffic != nil && c.DNS != nil {
			d := *c.DNS
			d.AllowExternalTraffic = *cs.DNSExternalTraffic
			c.DNS = &d
		}
		eff.Cluster = &c
	}
	return eff
}
