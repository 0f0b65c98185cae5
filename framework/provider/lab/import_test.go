package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"reachgate/framework/cloud"
	"reachgate/framework/gcpimport"
	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab"
)

// appliedBGPExport is bgp-export's cloud state once the solution is applied: four tunnels, a
// BGP peer on each, the master range advertised, custom routes exported to the GKE peering and
// the third party authorized.
func appliedBGPExport() *lab.CloudState {
	cs := haVPN()
	for k, name := range []string{"tunnel-2", "tunnel-3"} {
		cs.Tunnels[name] = lab.VPNTunnel{VpnTunnel: cloud.VpnTunnel{Name: name, Region: "us-central1", VpnGateway: "gke-ha-vpn",
			VpnGatewayInterface: k, PeerExternalGateway: "aws-vpn-gw", PeerExternalGatewayInterface: k + 2, Router: "gke-router"},
			Link: "tp-ha-vpn", Index: k + 2}
	}
	cs.BGPPeers = map[string][]cloud.RouterBgpPeer{}
	for k := range 4 {
		cs.BGPPeers["gke/gke-router"] = append(cs.BGPPeers["gke/gke-router"], cloud.RouterBgpPeer{Name: fmt.Sprintf("peer-%d", k),
			Tunnel: fmt.Sprintf("tunnel-%d", k), IPAddress: netip.MustParseAddr(fmt.Sprintf("169.254.%d.1", k)),
			PeerIPAddress: netip.MustParseAddr(fmt.Sprintf("169.254.%d.2", k)), PeerAsn: 64512})
	}
	cs.Advertisements = map[string]topology.Advertisement{"gke/gke-router": {Mode: topology.AdvertiseCustom,
		Groups: []string{topology.GroupAllSubnets}, Ranges: []netip.Prefix{netip.MustParsePrefix("192.168.32.32/28")}}}
	cs.Peerings = map[string]lab.PeeringFlags{"gke-3b1a4c5d-peer/gke": {ExportCustomRoutes: true}}
	cs.Authorized = &cloud.AuthorizedNetworks{Enabled: true, PrivateEndpointEnforcement: true,
		CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("34.159.42.248/32"), netip.MustParsePrefix("172.31.0.0/16")}}
	return cs
}

// roundTripPorts are the ports every host pair is judged on: ssh, the API server, a port no
// rule names, and ICMP-less "any" (port 0 judges routes only).
var roundTripPorts = []uint16{0, 22, 443, 8080}

// The import round trip: a topology served by the lab's API, read back through the official
// clients, gives the same verdict for every host pair and port as the lab's own model.
func TestImportRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		file string
		cs   *lab.CloudState
	}{
		{"seed.yaml", &lab.CloudState{}},
		{"alt.yaml", &lab.CloudState{}},
		{"bgp-export.yaml", &lab.CloudState{}},
		{"bgp-export.yaml", appliedBGPExport()},
		{"alt-bgp-export.yaml", &lab.CloudState{}},
		{"psc.yaml", &lab.CloudState{}},
		{"alt-psc.yaml", &lab.CloudState{}},
	} {
		name := tc.file
		if len(tc.cs.BGPPeers) > 0 {
			name += "+applied"
		}
		t.Run(name, func(t *testing.T) {
			opts := newReadAPI(t, tc.file, tc.cs)
			topo, err := topology.ParseFile("../../../fixtures/topologies/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			r, err := gcpimport.Import(context.Background(), gcpimport.Config{Project: "test-project", Options: opts}, gcpimport.ExternalOf(topo))
			if err != nil {
				t.Fatal(err)
			}
			data, err := yaml.Marshal(r.File)
			if err != nil {
				t.Fatal(err)
			}
			imported, err := topology.Parse("imported", data)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			want, err := netmodel.Compute(lab.Effective(topo, tc.cs))
			if err != nil {
				t.Fatal(err)
			}
			got, err := netmodel.Compute(imported)
			if err != nil {
				t.Fatal(err)
			}
			if len(imported.Hosts) != len(topo.Hosts) {
				t.Errorf("imported %d hosts, the lab has %d", len(imported.Hosts), len(topo.Hosts))
			}
			if w, g := topo.Cluster.DNS, imported.Cluster.DNS; (w == nil) != (g == nil) || (w != nil && *w != *g) {
				t.Errorf("imported DNS endpoint %+v; the lab has %+v", g, w)
			}
			compared, reachable := 0, 0
			for _, from := range topo.Hosts {
				for _, to := range topo.Hosts {
					if from == to {
						continue
					}
					for _, port := range roundTripPorts {
						f := netmodel.Flow{}
						if port != 0 {
							f = netmodel.Flow{Proto: "tcp", Port: port}
						}
						w, g := want.TraceFlow(from.IP, to.IP, f), got.TraceFlow(from.IP, to.IP, f)
						compared++
						if w.Reachable {
							reachable++
						}
						if w.Reachable != g.Reachable {
							t.Errorf("%s -> %s:%d: lab %v (%s), imported %v (%s)", from.Name, to.IP, port, w.Reachable, w.Reason, g.Reachable, g.Reason)
						}
					}
				}
			}
			if reachable == 0 || reachable == compared {
				t.Errorf("%d of %d flows reachable: the comparison cannot tell models apart", reachable, compared)
			}
			t.Logf("%d flows compared, %d reachable; notes: %s", compared, reachable, strings.Join(r.Notes, "; "))
		})
	}
}
