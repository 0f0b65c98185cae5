package lab

import (
	"maps"
	"slices"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
)

// The third-party cloud's end of an HA VPN to a gateway the API inserted on a VPC it
// inserted. In the cloud this is what an operator configures in AWS once GCP's HA VPN gateway
// has its two addresses: customer gateways, VPN connections and BGP on that side. The lab
// plays that cloud for its third-party side (cloud.ConnectVPN): connected, the gateway and the
// third-party VPC's router form a vpn link like one a topology file declares for the
// bgp-export solution, whose tunnels and BGP sessions appear as the API inserts them.

// APIVPN is the third-party end of an HA VPN to a gateway of the API.
type APIVPN struct {
	// Link names the vpn link; the tunnels the API inserts on Gateway belong to it.
	Link    string `json:"link"`
	Gateway string `json:"gateway"` // the HA VPN gateway
	Network string `json:"network"` // its VPC
	Router  string `json:"router"`  // the Cloud Router of its tunnels' BGP sessions
	// PeerGateway is the external VPN gateway that stands for the third-party end in the
	// project; PeerVPC and PeerRouter are that end in the third-party cloud.
	PeerGateway string `json:"peerGateway"`
	PeerVPC     string `json:"peerVpc"`
	PeerRouter  string `json:"peerRouter"`
	Tunnels     int    `json:"tunnels"`
	// Seq numbers the link's interfaces (w<Seq>) and underlay addresses for its life.
	Seq int `json:"seq"`
}

// apiVPNUnderlayBase numbers the underlay of the API's vpn links (100.100.<base+Seq>.0/24),
// apart from the topology file's links (100.100.<index>.0/24).
const apiVPNUnderlayBase = 128

// declareVPNs adds the vpn links of the connected third-party ends whose gateway exists.
func declareVPNs(d *topology.Topology, cs *CloudState) {
	for _, name := range slices.Sorted(maps.Keys(cs.PeerVPNs)) {
		v := cs.PeerVPNs[name]
		if _, ok := cs.VPNGateways[v.Gateway]; !ok {
			continue
		}
		d.Links = append(d.Links, &topology.Connection{Name: v.Link, Type: topology.LinkVPN, Solution: topology.SolutionBGPExport, Tunnels: v.Tunnels,
			A: topology.Endpoint{VPC: v.PeerVPC, Router: v.PeerRouter, Gateway: v.PeerGateway},
			B: topology.Endpoint{VPC: v.Network, Router: v.Router, Gateway: v.Gateway}})
	}
}

// SolutionLink is a vpn link whose tunnels a solution creates: one the topology file declares
// or one of the API's. Underlay numbers its underlay addresses (Underlay).
type SolutionLink struct {
	*topology.Connection
	Underlay int
}

// SolutionLinks lists the file's solution links, then the API's connected vpn links.
func (l *Lab) SolutionLinks() []SolutionLink {
	var out []SolutionLink
	for i, c := range l.Topology.Links {
		if c.Solution != "" {
			out = append(out, SolutionLink{Connection: c, Underlay: i})
		}
	}
	if l.Cloud == nil {
		return out
	}
	d := &topology.Topology{}
	declareVPNs(d, l.Cloud)
	for _, c := range d.Links {
		out = append(out, SolutionLink{Connection: c, Underlay: apiVPNUnderlayBase + l.Cloud.PeerVPNs[c.Name].Seq})
	}
	return out
}

// SolutionLinkOf finds the solution link with an end on gateway (an HA VPN gateway or the
// external gateway that stands for the peer), or named name when gateway is "".
func (l *Lab) SolutionLinkOf(name, gateway string) (SolutionLink, bool) {
	for _, s := range l.SolutionLinks() {
		if (gateway == "" && s.Name == name) || (gateway != "" && (s.A.Gateway == gateway || s.B.Gateway == gateway)) {
			return s, true
		}
	}
	return SolutionLink{}, false
}

// An HA VPN pair joins two of the API's VPCs: a gateway in each, tunnels from each to the
// other (peerGcpGateway) and BGP sessions on both Cloud Routers. The lab realizes a pair as it
// does an interconnect: one link between the two routers' namespaces (p<pairSeqBase+n>),
// routed by the model from both routers' advertisements, present while each end has a tunnel
// to the other with a BGP peer on it. The gcp provider builds one to stand in for the
// interconnect to a third-party VPC it created in the project.

// pairSeqBase numbers the pairs' links after the attachments'.
const pairSeqBase = 5000

// PairLink names the link of the HA VPN pair between gateways a and b (either order).
func PairLink(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "+" + b
}

// pairEnd is one end of a pair: its gateway's VPC and the router of a tunnel with a session.
type pairEnd struct{ vpc, router string }

// pairs returns the connected pairs' links by name, each with its number (the lowest
// sequence number among its tunnels).
func (cs *CloudState) pairs() (map[string]*topology.Connection, map[string]int) {
	ends := map[string]map[string]pairEnd{} // link -> gateway -> end
	seqs := map[string]int{}
	for _, name := range slices.Sorted(maps.Keys(cs.Tunnels)) {
		t := cs.Tunnels[name]
		g, ok := cs.VPNGateways[t.VpnGateway]
		if t.PeerGcpGateway == "" || !ok {
			continue
		}
		if _, ok := cs.VPNGateways[t.PeerGcpGateway]; !ok {
			continue
		}
		if s, ok := seqs[t.Link]; !ok || t.Seq < s {
			seqs[t.Link] = t.Seq
		}
		if !slices.ContainsFunc(cs.BGPPeers[g.Network+"/"+t.Router], func(p cloud.RouterBgpPeer) bool { return p.Tunnel == name }) {
			continue
		}
		if ends[t.Link] == nil {
			ends[t.Link] = map[string]pairEnd{}
		}
		ends[t.Link][t.VpnGateway] = pairEnd{vpc: g.Network, router: t.Router}
	}
	links := map[string]*topology.Connection{}
	for link, byGateway := range ends {
		if len(byGateway) != 2 {
			continue // one end only: no session can come up
		}
		gws := slices.Sorted(maps.Keys(byGateway))
		a, b := byGateway[gws[0]], byGateway[gws[1]]
		links[link] = &topology.Connection{Name: link, Type: topology.LinkVPN,
			A: topology.Endpoint{VPC: a.vpc, Router: a.router}, B: topology.Endpoint{VPC: b.vpc, Router: b.router}}
	}
	return links, seqs
}

// declarePairs adds the connected pairs' links to d.
func declarePairs(d *topology.Topology, cs *CloudState) {
	links, _ := cs.pairs()
	for _, name := range slices.Sorted(maps.Keys(links)) {
		d.Links = append(d.Links, links[name])
	}
}
