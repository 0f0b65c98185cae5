package lab

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/gcpapi"
	"reachgate/lab/netns"
)

// newReadAPI serves a topology with cs recorded as its cloud state (nothing realized) and
// returns the client options that reach it.
func newReadAPI(t *testing.T, file string, cs *lab.CloudState) []option.ClientOption {
	t.Helper()
	topo, err := topology.ParseFile("../../../fixtures/topologies/" + file)
	if err != nil {
		t.Fatal(err)
	}
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir(), Created: time.Now()}, Topology: topo,
		Current: lab.Effective(topo, cs), Cloud: cs}}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = gcpapi.New(lc, "test-project", "http://"+srv.Listener.Addr().String())
	srv.Start()
	t.Cleanup(srv.Close)
	return []option.ClientOption{option.WithEndpoint(srv.URL), option.WithoutAuthentication()}
}

func haVPN() *lab.CloudState {
	cs := &lab.CloudState{
		VPNGateways: map[string]cloud.VpnGateway{"gke-ha-vpn": {Name: "gke-ha-vpn", Network: "gke", Region: "us-central1"}},
		ExternalGateways: map[string]lab.ExternalGateway{"aws-vpn-gw": {ExternalVpnGateway: cloud.ExternalVpnGateway{Name: "aws-vpn-gw",
			RedundancyType: "FOUR_IPS_REDUNDANCY"}, Interfaces: 4}},
		Tunnels: map[string]lab.VPNTunnel{},
	}
	for k, name := range []string{"tunnel-0", "tunnel-1"} {
		cs.Tunnels[name] = lab.VPNTunnel{VpnTunnel: cloud.VpnTunnel{Name: name, Region: "us-central1", VpnGateway: "gke-ha-vpn",
			VpnGatewayInterface: k, PeerExternalGateway: "aws-vpn-gw", PeerExternalGatewayInterface: k, Router: "gke-router"},
			Link: "tp-ha-vpn", Index: k}
	}
	return cs
}

// The official compute clients read the HA VPN resources the lab recorded.
func TestOfficialClientsReadVPN(t *testing.T) {
	opts := newReadAPI(t, "bgp-export.yaml", haVPN())
	ctx := context.Background()
	gws, err := compute.NewVpnGatewaysRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer gws.Close()
	g, err := gws.Get(ctx, &computepb.GetVpnGatewayRequest{Project: "test-project", Region: "us-central1", VpnGateway: "gke-ha-vpn"})
	if err != nil || len(g.GetVpnInterfaces()) != 2 || g.GetVpnInterfaces()[1].GetIpAddress() != "100.100.0.5" {
		t.Fatalf("vpnGateways.get: %v, %v", g, err)
	}
	st, err := gws.GetStatus(ctx, &computepb.GetStatusVpnGatewayRequest{Project: "test-project", Region: "us-central1", VpnGateway: "gke-ha-vpn"})
	if err != nil || len(st.GetResult().GetVpnConnections()) != 1 ||
		st.GetResult().GetVpnConnections()[0].GetState().GetState() != cloud.RedundancyNotMet ||
		len(st.GetResult().GetVpnConnections()[0].GetTunnels()) != 2 {
		t.Errorf("vpnGateways.getStatus: %v, %v; want one connection, 2 tunnels, not met (no tunnel is up)", st, err)
	}
	_, err = gws.Get(ctx, &computepb.GetVpnGatewayRequest{Project: "test-project", Region: "us-central1", VpnGateway: "nope"})
	if err == nil {
		t.Error("get nope: no error")
	}

	tns, err := compute.NewVpnTunnelsRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tns.Close()
	var names []string
	it := tns.List(ctx, &computepb.ListVpnTunnelsRequest{Project: "test-project", Region: "us-central1"})
	for {
		tn, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tn.GetStatus() != "FIRST_HANDSHAKE" || tn.GetSharedSecret() != "*************" || tn.GetIkeVersion() != 2 {
			t.Errorf("tunnel %v", tn)
		}
		names = append(names, tn.GetName())
	}
	if len(names) != 2 || names[0] != "tunnel-0" || names[1] != "tunnel-1" {
		t.Errorf("vpnTunnels.list: %v", names)
	}

	ext, err := compute.NewExternalVpnGatewaysRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	eg, err := ext.Get(ctx, &computepb.GetExternalVpnGatewayRequest{Project: "test-project", ExternalVpnGateway: "aws-vpn-gw"})
	if err != nil || eg.GetRedundancyType() != "FOUR_IPS_REDUNDANCY" || len(eg.GetInterfaces()) != 4 {
		t.Errorf("externalVpnGateways.get: %v, %v", eg, err)
	}
}
