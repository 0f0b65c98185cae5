package gcpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/netns"
	"reachgate/lab/vpn"
)

// newServerWith serves topology file with cs as the recorded cloud state (nothing realized).
func newServerWith(t *testing.T, file string, cs *lab.CloudState) (*Server, *httptest.Server) {
	t.Helper()
	topo, err := topology.ParseFile("../../fixtures/topologies/" + file)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir(), Created: created}, Topology: topo,
		Current: lab.Effective(topo, cs), Cloud: cs}}
	hs := httptest.NewUnstartedServer(nil)
	s := New(lc, "p", "http://"+hs.Listener.Addr().String())
	hs.Config.Handler = s
	hs.Start()
	t.Cleanup(hs.Close)
	return s, hs
}

// haVPNState is bgp-export's HA VPN as the solution records it: the two gateways and four
// tunnels, two on each interface of the HA VPN gateway.
func haVPNState() *lab.CloudState {
	cs := &lab.CloudState{
		VPNGateways: map[string]cloud.VpnGateway{"gke-ha-vpn": {Name: "gke-ha-vpn", Network: "gke", Region: "us-central1"}},
		ExternalGateways: map[string]lab.ExternalGateway{"aws-vpn-gw": {ExternalVpnGateway: cloud.ExternalVpnGateway{Name: "aws-vpn-gw",
			RedundancyType: "FOUR_IPS_REDUNDANCY"}, Interfaces: 4}},
		Tunnels: map[string]lab.VPNTunnel{},
	}
	for k, name := range []string{"tunnel-0", "tunnel-1", "tunnel-2", "tunnel-3"} {
		cs.Tunnels[name] = lab.VPNTunnel{VpnTunnel: cloud.VpnTunnel{Name: name, Region: "us-central1", VpnGateway: "gke-ha-vpn",
			VpnGatewayInterface: k % 2, PeerExternalGateway: "aws-vpn-gw", PeerExternalGatewayInterface: k, Router: "gke-router"},
			Link: "tp-ha-vpn", Index: k, GCPKey: "gcp-private-key", PeerKey: "peer-private-key"}
	}
	return cs
}

// writeTunnelStatus writes the GCP side's VPN daemon status of tp-ha-vpn: the named tunnels
// ESTABLISHED, the others FIRST_HANDSHAKE.
func writeTunnelStatus(t *testing.T, s *Server, established ...string) {
	t.Helper()
	st := vpn.Status{Name: "tp-ha-vpn", Updated: time.Now()}
	for _, name := range []string{"tunnel-0", "tunnel-1", "tunnel-2", "tunnel-3"} {
		status := vpn.StatusFirstHandshake
		for _, e := range established {
			if e == name {
				status = vpn.StatusEstablished
			}
		}
		st.Tunnels = append(st.Tunnels, vpn.TunnelStatus{Name: name, Status: status})
	}
	data, _ := json.Marshal(st)
	path := vpn.StatusPath(s.cloud.L.DaemonSpec(lab.Daemon("vpn", "tp-ha-vpn", "gcp")))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVpnGatewaysGetListStatus(t *testing.T) {
	s, hs := newServerWith(t, "bgp-export.yaml", haVPNState())
	base := hs.URL + "/compute/v1/projects/p/regions/us-central1/vpnGateways"
	code, g := call(t, http.MethodGet, base+"/gke-ha-vpn", "")
	if code != 200 || g["kind"] != "compute#vpnGateway" || g["name"] != "gke-ha-vpn" || g["id"] == nil ||
		g["selfLink"] != s.link("regions", "us-central1", "vpnGateways", "gke-ha-vpn") ||
		g["network"] != s.link("global", "networks", "gke") || g["region"] != s.link("regions", "us-central1") ||
		g["creationTimestamp"] != "2025-03-04T05:06:07.000+00:00" {
		t.Fatalf("get: %d %v", code, g)
	}
	ifs, _ := g["vpnInterfaces"].([]any)
	if len(ifs) != 2 || ifs[0].(map[string]any)["ipAddress"] != "100.100.0.1" || ifs[1].(map[string]any)["ipAddress"] != "100.100.0.5" ||
		ifs[1].(map[string]any)["id"] != float64(1) {
		t.Errorf("vpnInterfaces %v; want ids 0 and 1 at the underlay's GCP addresses", g["vpnInterfaces"])
	}
	code, list := call(t, http.MethodGet, base, "")
	items, _ := list["items"].([]any)
	if code != 200 || list["kind"] != "compute#vpnGatewayList" || list["selfLink"] != s.link("regions", "us-central1", "vpnGateways") ||
		list["id"] == nil || len(items) != 1 || items[0].(map[string]any)["name"] != "gke-ha-vpn" {
		t.Errorf("list: %d %v", code, list)
	}
	// Another region has none.
	if code, list := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/regions/europe-west3/vpnGateways", ""); code != 200 || list["items"] != nil {
		t.Errorf("list europe-west3: %d %v; want no items", code, list)
	}

	status := func() map[string]any {
		t.Helper()
		code, out := call(t, http.MethodGet, base+"/gke-ha-vpn/getStatus", "")
		conns, _ := out["result"].(map[string]any)["vpnConnections"].([]any)
		if code != 200 || len(conns) != 1 {
			t.Fatalf("getStatus: %d %v; want one vpnConnection", code, out)
		}
		return conns[0].(map[string]any)
	}
	writeTunnelStatus(t, s, "tunnel-0", "tunnel-1", "tunnel-2")
	c := status()
	tunnels, _ := c["tunnels"].([]any)
	if st := c["state"].(map[string]any); st["state"] != cloud.RedundancyNotMet || st["unsatisfiedReason"] != "INCOMPLETE_TUNNELS_COVERAGE" ||
		c["peerExternalGateway"] != s.link("global", "externalVpnGateways", "aws-vpn-gw") || len(tunnels) != 4 {
		t.Errorf("3 of 4 up: %v", c)
	}
	if t3 := tunnels[3].(map[string]any); t3["localGatewayInterface"] != float64(1) || t3["peerGatewayInterface"] != float64(3) ||
		t3["tunnelUrl"] != s.link("regions", "us-central1", "vpnTunnels", "tunnel-3") {
		t.Errorf("tunnel 3: %v", t3)
	}
	writeTunnelStatus(t, s, "tunnel-0", "tunnel-1", "tunnel-2", "tunnel-3")
	if c := status(); c["state"].(map[string]any)["state"] != cloud.RedundancyMet || c["state"].(map[string]any)["unsatisfiedReason"] != nil {
		t.Errorf("4 of 4 up: %v", c)
	}

	for _, path := range []string{"/nope", "/nope/getStatus", "/gke-ha-vpn/nope"} {
		if code, out := call(t, http.MethodGet, base+path, ""); code != 404 || out["error"] == nil {
			t.Errorf("GET %s: %d %v; want 404", path, code, out)
		}
	}
	if code, _ := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/regions/europe-west3/vpnGateways/gke-ha-vpn", ""); code != 404 {
		t.Errorf("get in another region: %d; want 404", code)
	}
}

func TestExternalVpnGatewaysGetList(t *testing.T) {
	s, hs := newServerWith(t, "bgp-export.yaml", haVPNState())
	base := hs.URL + "/compute/v1/projects/p/global/externalVpnGateways"
	code, g := call(t, http.MethodGet, base+"/aws-vpn-gw", "")
	ifs, _ := g["interfaces"].([]any)
	if code != 200 || g["kind"] != "compute#externalVpnGateway" || g["redundancyType"] != "FOUR_IPS_REDUNDANCY" ||
		g["selfLink"] != s.link("global", "externalVpnGateways", "aws-vpn-gw") || g["id"] == nil || g["creationTimestamp"] == nil || len(ifs) != 4 {
		t.Fatalf("get: %d %v", code, g)
	}
	if i := ifs[3].(map[string]any); i["id"] != float64(3) || i["ipAddress"] != "100.100.0.14" {
		t.Errorf("interface 3: %v; want id 3 at 100.100.0.14", i)
	}
	code, list := call(t, http.MethodGet, base, "")
	if items, _ := list["items"].([]any); code != 200 || list["kind"] != "compute#externalVpnGatewayList" || len(items) != 1 {
		t.Errorf("list: %d %v", code, list)
	}
	if code, _ := call(t, http.MethodGet, base+"/nope", ""); code != 404 {
		t.Errorf("get nope: %d; want 404", code)
	}
}

func TestVpnTunnelsGetList(t *testing.T) {
	s, hs := newServerWith(t, "bgp-export.yaml", haVPNState())
	writeTunnelStatus(t, s, "tunnel-1")
	base := hs.URL + "/compute/v1/projects/p/regions/us-central1/vpnTunnels"
	code, tn := call(t, http.MethodGet, base+"/tunnel-1", "")
	if code != 200 || tn["kind"] != "compute#vpnTunnel" || tn["name"] != "tunnel-1" || tn["status"] != "ESTABLISHED" ||
		tn["detailedStatus"] != "Tunnel is up and running." || tn["ikeVersion"] != float64(2) ||
		tn["vpnGateway"] != s.link("regions", "us-central1", "vpnGateways", "gke-ha-vpn") || tn["vpnGatewayInterface"] != float64(1) ||
		tn["peerExternalGateway"] != s.link("global", "externalVpnGateways", "aws-vpn-gw") || tn["peerExternalGatewayInterface"] != float64(1) ||
		tn["router"] != s.link("regions", "us-central1", "routers", "gke-router") || tn["peerIp"] != "100.100.0.6" ||
		tn["sharedSecret"] != "*************" || tn["sharedSecretHash"] == nil || tn["region"] != s.link("regions", "us-central1") {
		t.Fatalf("get: %d %v", code, tn)
	}
	code, list := call(t, http.MethodGet, base, "")
	items, _ := list["items"].([]any)
	if code != 200 || list["kind"] != "compute#vpnTunnelList" || len(items) != 4 {
		t.Fatalf("list: %d %v", code, list)
	}
	for _, it := range items {
		m := it.(map[string]any)
		want := "FIRST_HANDSHAKE"
		if m["name"] == "tunnel-1" {
			want = "ESTABLISHED"
		}
		if m["status"] != want {
			t.Errorf("%v: status %v; want %s", m["name"], m["status"], want)
		}
	}
	// No key or secret of the lab's records leaks into any answer.
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw strings.Builder
	_, _ = io.Copy(&raw, resp.Body)
	if strings.Contains(raw.String(), "private-key") || strings.Contains(raw.String(), "Key") {
		t.Errorf("list shows the tunnels' keys: %s", raw.String())
	}
	if code, _ := call(t, http.MethodGet, base+"/nope", ""); code != 404 {
		t.Errorf("get nope: %d; want 404", code)
	}
}
