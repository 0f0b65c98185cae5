package lab

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"reachgate/framework/cloud"
	"reachgate/framework/pki"
	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/controlplane"
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
	ca, err := pki.NewCA("test cluster CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir(), Created: time.Now()}, Topology: topo,
		Current: lab.Effective(topo, cs), Cloud: cs, CP: &controlplane.ControlPlane{CA: ca}}}
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

// The official compute clients list and read the lab's networks, subnetworks, routes,
// firewalls, instances and routers.
func TestOfficialClientsReadNetworks(t *testing.T) {
	opts := newReadAPI(t, "seed.yaml", &lab.CloudState{})
	ctx := context.Background()
	const project = "test-project"

	nets, err := compute.NewNetworksRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nets.Close()
	var names []string
	for n, err := range nets.List(ctx, &computepb.ListNetworksRequest{Project: project}).All() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n.GetName())
	}
	if len(names) != 2 || names[0] != "hub" || names[1] != "gke" {
		t.Errorf("networks.list: %v", names)
	}

	subs, err := compute.NewSubnetworksRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer subs.Close()
	sn, err := subs.Get(ctx, &computepb.GetSubnetworkRequest{Project: project, Region: "us-central1", Subnetwork: "default"})
	if err != nil || sn.GetIpCidrRange() != "10.128.0.0/20" || len(sn.GetSecondaryIpRanges()) != 2 || sn.GetSecondaryIpRanges()[1].GetRangeName() != "gke-services" {
		t.Errorf("subnetworks.get: %v, %v", sn, err)
	}
	regions := map[string]int{}
	for pair, err := range subs.AggregatedList(ctx, &computepb.AggregatedListSubnetworksRequest{Project: project}).All() {
		if err != nil {
			t.Fatal(err)
		}
		regions[pair.Key] = len(pair.Value.GetSubnetworks())
	}
	if len(regions) != 2 || regions["regions/us-central1"] != 2 || regions["regions/europe-west3"] != 1 {
		t.Errorf("subnetworks.aggregatedList: %v", regions)
	}

	fws, err := compute.NewFirewallsRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer fws.Close()
	fw, err := fws.Get(ctx, &computepb.GetFirewallRequest{Project: project, Firewall: "allow-third-party-ssh"})
	if err != nil || fw.GetDirection() != "INGRESS" || len(fw.GetAllowed()) != 2 || fw.GetAllowed()[0].GetIPProtocol() != "tcp" || fw.GetAllowed()[0].GetPorts()[0] != "22" {
		t.Errorf("firewalls.get: %v, %v", fw, err)
	}

	ins, err := compute.NewInstancesRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	var ips []string
	for in, err := range ins.List(ctx, &computepb.ListInstancesRequest{Project: project, Zone: "us-central1-c"}).All() {
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, in.GetNetworkInterfaces()[0].GetNetworkIP())
	}
	if len(ips) != 3 || ips[0] != "10.128.0.3" {
		t.Errorf("instances.list us-central1-c: %v; want the 3 nodes", ips)
	}

	rts, err := compute.NewRoutesRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer rts.Close()
	n := 0
	for r, err := range rts.List(ctx, &computepb.ListRoutesRequest{Project: project}).All() {
		if err != nil {
			t.Fatal(err)
		}
		if r.GetRouteType() != "SUBNET" {
			t.Errorf("route %v", r)
		}
		n++
	}
	if n != 5 {
		t.Errorf("routes.list: %d routes; want 5", n)
	}

	routers, err := compute.NewRoutersRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer routers.Close()
	names = nil
	for r, err := range routers.List(ctx, &computepb.ListRoutersRequest{Project: project, Region: "us-central1"}).All() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, r.GetName())
	}
	if len(names) != 1 || names[0] != "hub-router" {
		t.Errorf("routers.list: %v", names)
	}
}

// The official container client lists the lab's cluster, at "-" and at its location.
func TestOfficialClientListsClusters(t *testing.T) {
	_, _, _, url := newAPI(t)
	ctx := context.Background()
	cm, err := container.NewClusterManagerRESTClient(ctx, option.WithEndpoint(url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	for _, loc := range []string{"-", "us-central1-c"} {
		resp, err := cm.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/test-project/locations/" + loc})
		if err != nil || len(resp.GetClusters()) != 1 || resp.GetClusters()[0].GetName() != "private-cluster" ||
			resp.GetClusters()[0].GetPrivateClusterConfig().GetPrivateEndpoint() != "192.168.32.34" {
			t.Errorf("clusters.list %s: %v, %v", loc, resp, err)
		}
	}
	resp, err := cm.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/test-project/locations/europe-west3"})
	if err != nil || len(resp.GetClusters()) != 0 {
		t.Errorf("clusters.list europe-west3: %v, %v; want none", resp, err)
	}
}
