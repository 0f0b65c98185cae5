package gcpapi

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/netns"
)

func TestNetworksList(t *testing.T) {
	s, hs := newServerWith(t, "seed.yaml", &lab.CloudState{})
	code, list := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/global/networks", "")
	items, _ := list["items"].([]any)
	if code != 200 || list["kind"] != "compute#networkList" || list["selfLink"] != s.link("global", "networks") || len(items) != 2 {
		t.Fatalf("list: %d %v; want hub and gke (not the third-party or the Google-owned VPC)", code, list)
	}
	gke := items[1].(map[string]any)
	subs, _ := gke["subnetworks"].([]any)
	if gke["name"] != "gke" || gke["kind"] != "compute#network" || gke["creationTimestamp"] == nil || len(subs) != 2 ||
		subs[1] != s.link("regions", "europe-west3", "subnetworks", "jumpbox") {
		t.Errorf("gke: %v", gke)
	}
}

func TestSubnetworks(t *testing.T) {
	s, hs := newServerWith(t, "seed.yaml", &lab.CloudState{})
	base := hs.URL + "/compute/v1/projects/p/"
	code, sn := call(t, http.MethodGet, base+"regions/us-central1/subnetworks/default", "")
	sec, _ := sn["secondaryIpRanges"].([]any)
	if code != 200 || sn["kind"] != "compute#subnetwork" || sn["ipCidrRange"] != "10.128.0.0/20" || sn["gatewayAddress"] != "10.128.0.1" ||
		sn["network"] != s.link("global", "networks", "gke") || sn["region"] != s.link("regions", "us-central1") ||
		sn["purpose"] != "PRIVATE" || sn["privateIpGoogleAccess"] != true || sn["fingerprint"] == nil || sn["id"] == nil ||
		sn["selfLink"] != s.link("regions", "us-central1", "subnetworks", "default") || len(sec) != 2 {
		t.Fatalf("get: %d %v", code, sn)
	}
	if r := sec[0].(map[string]any); r["rangeName"] != "gke-pods" || r["ipCidrRange"] != "10.36.0.0/14" {
		t.Errorf("secondary range 0: %v", r)
	}
	_, hub := call(t, http.MethodGet, base+"regions/us-central1/subnetworks/hub-subnet", "")
	if hub["privateIpGoogleAccess"] != false || hub["fingerprint"] == sn["fingerprint"] {
		t.Errorf("hub-subnet: %v", hub)
	}
	code, list := call(t, http.MethodGet, base+"regions/us-central1/subnetworks", "")
	var names []string
	items, _ := list["items"].([]any)
	for _, it := range items {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	if code != 200 || list["kind"] != "compute#subnetworkList" || strings.Join(names, ",") != "hub-subnet,default" {
		t.Errorf("list us-central1: %d %v; want hub-subnet,default", code, names)
	}
	code, agg := call(t, http.MethodGet, base+"aggregated/subnetworks", "")
	byRegion, _ := agg["items"].(map[string]any)
	eu, _ := byRegion["regions/europe-west3"].(map[string]any)
	euSubs, _ := eu["subnetworks"].([]any)
	us, _ := byRegion["regions/us-central1"].(map[string]any)
	usSubs, _ := us["subnetworks"].([]any)
	if code != 200 || agg["kind"] != "compute#subnetworkAggregatedList" || agg["selfLink"] != s.link("aggregated", "subnetworks") ||
		len(byRegion) != 2 || len(euSubs) != 1 || len(usSubs) != 2 || euSubs[0].(map[string]any)["name"] != "jumpbox" {
		t.Errorf("aggregatedList: %d %v", code, agg)
	}
	for _, path := range []string{"regions/us-central1/subnetworks/nope", "regions/europe-west3/subnetworks/default", "regions/us-central1/subnetworks/master"} {
		if code, _ := call(t, http.MethodGet, base+path, ""); code != 404 {
			t.Errorf("GET %s: %d; want 404", path, code)
		}
	}
}

func TestRoutesList(t *testing.T) {
	s, hs := newServerWith(t, "seed.yaml", &lab.CloudState{})
	code, list := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/global/routes", "")
	items, _ := list["items"].([]any)
	// hub: 1 range; gke: default's 3 ranges and jumpbox's 1.
	if code != 200 || list["kind"] != "compute#routeList" || len(items) != 5 {
		t.Fatalf("list: %d %v; want 5 subnet routes", code, list)
	}
	var pods map[string]any
	for _, it := range items {
		if m := it.(map[string]any); m["destRange"] == "10.36.0.0/14" {
			pods = m
		}
	}
	if pods == nil || pods["routeType"] != "SUBNET" || pods["nextHopNetwork"] != s.link("global", "networks", "gke") ||
		pods["network"] != s.link("global", "networks", "gke") || !strings.HasPrefix(pods["name"].(string), "default-route-") || pods["kind"] != "compute#route" {
		t.Fatalf("pod range route: %v", pods)
	}
	if code, got := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/global/routes/"+pods["name"].(string), ""); code != 200 || got["destRange"] != "10.36.0.0/14" {
		t.Errorf("get %v: %d %v", pods["name"], code, got)
	}
	if code, _ := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/global/routes/nope", ""); code != 404 {
		t.Errorf("get nope: %d; want 404", code)
	}
}

func TestInstances(t *testing.T) {
	s, hs := newServerWith(t, "seed.yaml", &lab.CloudState{})
	base := hs.URL + "/compute/v1/projects/p/zones/"
	node := "gke-private-cluster-default-pool-a9966b2c-k3xv"
	code, in := call(t, http.MethodGet, base+"us-central1-c/instances/"+node, "")
	nics, _ := in["networkInterfaces"].([]any)
	if code != 200 || in["kind"] != "compute#instance" || in["status"] != "RUNNING" || in["zone"] != s.link("zones", "us-central1-c") ||
		in["machineType"] != s.link("zones", "us-central1-c", "machineTypes", "e2-medium") || in["fingerprint"] == nil || len(nics) != 1 {
		t.Fatalf("get node: %d %v", code, in)
	}
	nic := nics[0].(map[string]any)
	alias, _ := nic["aliasIpRanges"].([]any)
	if nic["networkIP"] != "10.128.0.4" || nic["network"] != s.link("global", "networks", "gke") ||
		nic["subnetwork"] != s.link("regions", "us-central1", "subnetworks", "default") || len(alias) != 1 ||
		alias[0].(map[string]any)["ipCidrRange"] != "10.36.1.0/24" || alias[0].(map[string]any)["subnetworkRangeName"] != "gke-pods" {
		t.Errorf("node's interface: %v", nic)
	}
	code, list := call(t, http.MethodGet, base+"us-central1-c/instances", "")
	if items, _ := list["items"].([]any); code != 200 || list["kind"] != "compute#instanceList" || len(items) != 3 {
		t.Errorf("list us-central1-c: %d %v; want the 3 nodes", code, list)
	}
	code, jb := call(t, http.MethodGet, base+"europe-west3-a/instances/jumpbox", "")
	if code != 200 || jb["networkInterfaces"].([]any)[0].(map[string]any)["networkIP"] != "10.156.0.8" {
		t.Errorf("get jumpbox: %d %v", code, jb)
	}
	for _, path := range []string{"us-central1-a/instances/" + node, "us-central1-c/instances/master", "us-east-1-a/instances/tp-vm", "us-central1-c/instances/nope"} {
		if code, _ := call(t, http.MethodGet, base+path, ""); code != 404 {
			t.Errorf("GET %s: %d; want 404", path, code)
		}
	}
}

// A host's tags, and a deny rule's protocols and ports, from a seed with both added.
func TestInstanceTagsAndDenyRule(t *testing.T) {
	data, err := os.ReadFile("../../fixtures/topologies/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), "      role: in-vpc-client\n", "      role: in-vpc-client\n      tags: [jumpbox, ssh]\n", 1)
	src = strings.Replace(src, "          ports: [tcp:22, icmp]\n", "          ports: [tcp:22, icmp]\n        - name: deny-high\n          action: deny\n          priority: 900\n"+
		"          sourceRanges: [0.0.0.0/0]\n          ports: [tcp:30000-32767, udp, tcp:8080]\n          targetTags: [ssh]\n", 1)
	topo, err := topology.Parse("seed-tags.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir()}, Topology: topo, Current: topo, Cloud: &lab.CloudState{}}}
	hs := httptest.NewUnstartedServer(nil)
	s := New(lc, "p", "http://"+hs.Listener.Addr().String())
	hs.Config.Handler = s
	hs.Start()
	defer hs.Close()

	_, in := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/zones/europe-west3-a/instances/jumpbox", "")
	tags, _ := in["tags"].(map[string]any)
	items, _ := tags["items"].([]any)
	if len(items) != 2 || items[0] != "jumpbox" || items[1] != "ssh" || tags["fingerprint"] == nil {
		t.Errorf("jumpbox tags %v; want [jumpbox ssh] with a fingerprint", in["tags"])
	}
	code, fw := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/global/firewalls/deny-high", "")
	denied, _ := fw["denied"].([]any)
	if code != 200 || fw["allowed"] != nil || fw["priority"] != float64(900) || len(denied) != 2 || fw["targetTags"].([]any)[0] != "ssh" {
		t.Fatalf("deny-high: %d %v", code, fw)
	}
	tcp, udp := denied[0].(map[string]any), denied[1].(map[string]any)
	if tcp["IPProtocol"] != "tcp" || len(tcp["ports"].([]any)) != 2 || tcp["ports"].([]any)[0] != "30000-32767" || tcp["ports"].([]any)[1] != "8080" ||
		udp["IPProtocol"] != "udp" || udp["ports"] != nil {
		t.Errorf("denied %v; want tcp 30000-32767 and 8080, udp every port", denied)
	}
}

func TestFirewalls(t *testing.T) {
	s, hs := newServerWith(t, "seed.yaml", &lab.CloudState{})
	base := hs.URL + "/compute/v1/projects/p/global/firewalls"
	code, fw := call(t, http.MethodGet, base+"/allow-third-party-ssh", "")
	allowed, _ := fw["allowed"].([]any)
	if code != 200 || fw["kind"] != "compute#firewall" || fw["direction"] != "INGRESS" || fw["priority"] != float64(1000) ||
		fw["network"] != s.link("global", "networks", "gke") || len(fw["sourceRanges"].([]any)) != 1 || fw["sourceRanges"].([]any)[0] != "172.31.0.0/16" ||
		len(allowed) != 2 || fw["denied"] != nil {
		t.Fatalf("get: %d %v", code, fw)
	}
	tcp, icmp := allowed[0].(map[string]any), allowed[1].(map[string]any)
	if tcp["IPProtocol"] != "tcp" || len(tcp["ports"].([]any)) != 1 || tcp["ports"].([]any)[0] != "22" || icmp["IPProtocol"] != "icmp" || icmp["ports"] != nil {
		t.Errorf("allowed %v; want tcp 22 and icmp", allowed)
	}
	_, all := call(t, http.MethodGet, base+"/allow-internal", "")
	if a := all["allowed"].([]any); len(a) != 1 || a[0].(map[string]any)["IPProtocol"] != "all" {
		t.Errorf("allow-internal: %v; want IPProtocol all", all)
	}
	code, list := call(t, http.MethodGet, base, "")
	if items, _ := list["items"].([]any); code != 200 || list["kind"] != "compute#firewallList" || len(items) != 2 {
		t.Errorf("list: %d %v", code, list)
	}
	if code, _ := call(t, http.MethodGet, base+"/nope", ""); code != 404 {
		t.Errorf("get nope: %d; want 404", code)
	}
}
