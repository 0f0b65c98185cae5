package lab

import (
	"context"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"

	"reachgate/framework/cloud"
	"reachgate/framework/probe"
	"reachgate/framework/provider/gcp"
	"reachgate/framework/topology"
)

const vpcInterconnect = "testdata/vpc-interconnect.yaml"

// The gcp provider joins a VPC it created to the bare lab's third-party cloud as Partner
// Interconnect does: a PARTNER attachment on the VPC's Cloud Router, its pairing key handed
// to the lab playing the partner, ACTIVE once connected; traffic then crosses it, and
// teardown removes the attachment with the rest.
func TestPartnerInterconnectIntoBareLab(t *testing.T) {
	_, env, c := bareLabOf(t, "prov-i", vpcInterconnect)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	whole, err := topology.ParseFile(vpcInterconnect)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := env.Host("tp-vm")
	if err != nil {
		t.Fatal(err)
	}
	// Before: no path from the third party to the VPC's range.
	if r := probe.TCP(ctx, tp, "10.10.0.10:9", time.Second); r.Outcome != probe.Timeout && r.Outcome != probe.Unreachable {
		t.Fatalf("tp-vm -> 10.10.0.10:9 before provisioning: %+v; want no answer", r)
	}
	url, sum, err := env.AgentSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Provision(ctx, whole, gcp.ProvisionOptions{Run: "pi", ExternalThirdParty: true, AgentURL: url, AgentSHA256: sum,
		Partner: env.ConnectPartner, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("provision with a partner interconnect into the lab: %.2fs; API calls %s", p.Took.Seconds(), c.Calls)
	// The calls as the official clients sent them, counted at the Cloud's transport: one
	// insert of each resource (the third-party VPC is the lab's, not the project's).
	calls := c.Calls.Snapshot()
	for _, m := range []string{"networks.insert", "subnetworks.insert", "routers.insert", "firewalls.insert", "instances.insert", "interconnectAttachments.insert"} {
		if calls[m] != 1 {
			t.Errorf("%s called %d times during provision; want 1 (%s)", m, calls[m], c.Calls)
		}
	}
	access, err := env.GCPAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	atts, err := compute.NewInterconnectAttachmentsRESTClient(ctx, append(access.Options, option.WithEndpoint(access.Endpoint))...)
	if err != nil {
		t.Fatal(err)
	}
	defer atts.Close()
	a, err := atts.Get(ctx, &computepb.GetInterconnectAttachmentRequest{Project: access.Project, Region: "us-central1", InterconnectAttachment: "rg-pi-tp-interconnect"})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetType() != "PARTNER" || a.GetState() != "ACTIVE" || !strings.HasSuffix(a.GetRouter(), "/routers/rg-pi-hub-router") || a.GetLabels()[gcp.RunLabel] != "pi" {
		t.Errorf("the attachment: type %s state %s router %s labels %v; want an ACTIVE PARTNER attachment on rg-pi-hub-router, labelled",
			a.GetType(), a.GetState(), a.GetRouter(), a.GetLabels())
	}
	// After: the VM's kernel answers (RST: routed both ways, admitted by the VPC's firewall).
	if r := probe.TCP(ctx, tp, "10.10.0.10:9", 3*time.Second); r.Outcome != probe.Refused {
		t.Errorf("tp-vm -> hub-vm 10.10.0.10:9 over the interconnect: %+v; want Refused (the VM answered)", r)
	}
	if err := c.Teardown(ctx, "pi", testWriter{t}); err != nil {
		t.Fatal(err)
	}
	left, err := c.FindLeftovers(ctx, gcp.JanitorOptions{})
	if err != nil || len(left) != 0 {
		t.Fatalf("after teardown: %v %v", left, err)
	}
	if r := probe.TCP(ctx, tp, "10.10.0.10:9", time.Second); r.Outcome == probe.Refused || r.Outcome == probe.Connected {
		t.Errorf("tp-vm -> 10.10.0.10:9 after teardown: %+v; want no answer", r)
	}
}

// Where the third-party VPC is the project's own (on Google, where no lab plays the third-party
// cloud), the gcp provider emulates the interconnect with an HA VPN pair: a gateway in each
// VPC, two tunnels each way, a BGP session per tunnel on both Cloud Routers. The VM of the
// stand-in VPC reaches the VPC's VM over the pair, and not once one router's sessions are gone.
func TestStandInInterconnectIsAnHAVPNPair(t *testing.T) {
	_, env, c := bareLabOf(t, "prov-s", vpcInterconnect)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	whole, err := topology.ParseFile(vpcInterconnect)
	if err != nil {
		t.Fatal(err)
	}
	url, sum, err := env.AgentSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Provision(ctx, whole, gcp.ProvisionOptions{Run: "si", AgentURL: url, AgentSHA256: sum, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Teardown(context.WithoutCancel(ctx), "si", testWriter{t}); err != nil {
			t.Error(err)
		}
		if left, err := c.FindLeftovers(context.WithoutCancel(ctx), gcp.JanitorOptions{}); err != nil || len(left) != 0 {
			t.Errorf("after teardown: %v %v", left, err)
		}
	}()
	t.Logf("provision with a stand-in interconnect: %.2fs; API calls %s; notes %v", p.Took.Seconds(), c.Calls, p.Notes)
	calls := c.Calls.Snapshot()
	for m, want := range map[string]int{"networks.insert": 2, "vpnGateways.insert": 2, "vpnTunnels.insert": 4, "routers.update": 2, "instances.insert": 2} {
		if calls[m] != want {
			t.Errorf("%s called %d times during provision; want %d (%s)", m, calls[m], want, c.Calls)
		}
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "emulated") {
		t.Errorf("notes %v; want one saying the interconnect is emulated", p.Notes)
	}
	tpVM := p.Hosts["tp-vm"]
	tp := c.AgentHost(tpVM.Zone, tpVM.Instance)
	if r := probe.TCP(ctx, tp, "10.10.0.10:9", 3*time.Second); r.Outcome != probe.Refused {
		t.Fatalf("stand-in tp-vm -> hub-vm 10.10.0.10:9 over the HA VPN pair: %+v; want Refused (the VM answered)", r)
	}
	// Without the hub router's sessions the pair carries nothing.
	rt, err := c.GetRouter(ctx, "rg-si-hub", "rg-si-hub-router")
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.BgpPeers) != 2 {
		t.Fatalf("hub router's BGP peers %+v; want 2 (one per tunnel)", rt.BgpPeers)
	}
	none := []cloud.RouterBgpPeer{}
	if err := c.PatchRouter(ctx, cloud.RouterPatch{Network: "rg-si-hub", Router: "rg-si-hub-router", BgpPeers: &none}); err != nil {
		t.Fatal(err)
	}
	if r := probe.TCP(ctx, tp, "10.10.0.10:9", time.Second); r.Outcome == probe.Refused || r.Outcome == probe.Connected {
		t.Errorf("tp-vm -> 10.10.0.10:9 without the hub router's sessions: %+v; want no answer", r)
	}
	if err := c.PatchRouter(ctx, cloud.RouterPatch{Network: "rg-si-hub", Router: "rg-si-hub-router", BgpPeers: &rt.BgpPeers}); err != nil {
		t.Fatal(err)
	}
	if r := probe.TCP(ctx, tp, "10.10.0.10:9", 3*time.Second); r.Outcome != probe.Refused {
		t.Errorf("tp-vm -> 10.10.0.10:9 with the sessions back: %+v; want Refused", r)
	}
}
