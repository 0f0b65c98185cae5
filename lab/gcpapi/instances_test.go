package gcpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/netns"
)

// newSeedWithVM serves seed.yaml with one more host, hub-vm: a plain VM (role vm) in the hub.
func newSeedWithVM(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	data, err := os.ReadFile("../../fixtures/topologies/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), "  hosts:\n", "  hosts:\n    - name: hub-vm\n      vpc: hub\n      subnet: hub-subnet\n      ip: 10.10.0.5\n", 1)
	topo, err := topology.Parse("seed-vm.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cs := &lab.CloudState{}
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir()}, Topology: topo, Current: lab.Effective(topo, cs), Cloud: cs}}
	hs := httptest.NewUnstartedServer(nil)
	s := New(lc, "p", "http://"+hs.Listener.Addr().String())
	hs.Config.Handler = s
	hs.Start()
	t.Cleanup(hs.Close)
	return s, hs
}

const (
	nodeGQ92 = "gke-private-cluster-default-pool-a9966b2c-gq92"
	nodeK3XV = "gke-private-cluster-default-pool-a9966b2c-k3xv"
	nodeZ8M2 = "gke-private-cluster-default-pool-a9966b2c-z8m2"
)

// instances.aggregatedList: every host of the customer VPCs once, under its zone, with the
// labels of its role.
func TestAggregatedInstances(t *testing.T) {
	s, hs := newSeedWithVM(t)
	code, agg := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/aggregated/instances", "")
	byZone, _ := agg["items"].(map[string]any)
	if code != 200 || agg["kind"] != "compute#instanceAggregatedList" || agg["selfLink"] != s.link("aggregated", "instances") || len(byZone) != 3 {
		t.Fatalf("aggregatedList: %d %v; want zones us-central1-c, us-central1-a and europe-west3-a", code, agg)
	}
	want := map[string]string{nodeGQ92: "us-central1-c", nodeK3XV: "us-central1-c", nodeZ8M2: "us-central1-c",
		"hub-vm": "us-central1-a", "jumpbox": "europe-west3-a"}
	seen := map[string]map[string]any{}
	for key, scoped := range byZone {
		items, _ := scoped.(map[string]any)["instances"].([]any)
		for _, it := range items {
			in := it.(map[string]any)
			name := in["name"].(string)
			if seen[name] != nil {
				t.Errorf("%s listed twice", name)
			}
			seen[name] = in
			if zone, ok := want[name]; !ok || key != "zones/"+zone || in["zone"] != s.link("zones", zone) {
				t.Errorf("%s under %s (zone %v); want zones/%s", name, key, in["zone"], zone)
			}
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d instances; want %d (not tp-vm, not master)", len(seen), len(want))
	}
	for _, node := range []string{nodeGQ92, nodeK3XV, nodeZ8M2} {
		l, _ := seen[node]["labels"].(map[string]any)
		if v, ok := l["goog-gke-node"]; len(l) != 2 || !ok || v != "" || l["goog-k8s-cluster-name"] != "private-cluster" {
			t.Errorf("%s labels %v; want goog-gke-node \"\" and goog-k8s-cluster-name private-cluster", node, seen[node]["labels"])
		}
		if seen[node]["labelFingerprint"] == emptyLabelFingerprint || seen[node]["labelFingerprint"] != seen[nodeGQ92]["labelFingerprint"] {
			t.Errorf("%s labelFingerprint %v; want the nodes' labels' own", node, seen[node]["labelFingerprint"])
		}
	}
	jb := seen["jumpbox"]
	if l, _ := jb["labels"].(map[string]any); len(l) != 1 || l["reachgate-role"] != "in-vpc-client" ||
		jb["labelFingerprint"] == emptyLabelFingerprint || jb["labelFingerprint"] == seen[nodeGQ92]["labelFingerprint"] {
		t.Errorf("jumpbox labels %v (%v); want reachgate-role in-vpc-client", jb["labels"], jb["labelFingerprint"])
	}
	if vm := seen["hub-vm"]; vm["labels"] != nil || vm["labelFingerprint"] != emptyLabelFingerprint {
		t.Errorf("hub-vm labels %v (%v); want none", vm["labels"], vm["labelFingerprint"])
	}
	for _, h := range s.cloud.L.Current.Hosts {
		if p := labelProblem(s.hostLabels(h)); p != "" {
			t.Errorf("%s: compute would refuse its labels: %s", h.Name, p)
		}
	}
	// The zone's own list and get show the same instance.
	_, got := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/zones/europe-west3-a/instances/jumpbox", "")
	if got["labelFingerprint"] != jb["labelFingerprint"] || got["fingerprint"] != jb["fingerprint"] || got["labels"].(map[string]any)["reachgate-role"] != "in-vpc-client" {
		t.Errorf("get jumpbox %v; want what aggregatedList shows", got)
	}
}

// The official compute client decodes instances.aggregatedList and the interconnect
// attachments: the wire format, not just the JSON keys.
func TestOfficialClientReadsInstancesAndAttachments(t *testing.T) {
	s, hs := newSeedWithVM(t)
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(hs.URL), option.WithoutAuthentication()}
	ic, err := compute.NewInstancesRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	zones := map[string][]string{}
	labels := map[string]map[string]string{}
	it := ic.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: "p"})
	for {
		pair, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range pair.Value.GetInstances() {
			zones[pair.Key] = append(zones[pair.Key], in.GetName())
			labels[in.GetName()] = in.GetLabels()
		}
	}
	if got := zones["zones/us-central1-c"]; !slices.Equal(got, []string{nodeGQ92, nodeK3XV, nodeZ8M2}) ||
		!slices.Equal(zones["zones/europe-west3-a"], []string{"jumpbox"}) || !slices.Equal(zones["zones/us-central1-a"], []string{"hub-vm"}) || len(zones) != 3 {
		t.Errorf("aggregatedList by zone: %v", zones)
	}
	if l, ok := labels[nodeK3XV]["goog-gke-node"]; !ok || l != "" || labels[nodeK3XV]["goog-k8s-cluster-name"] != "private-cluster" ||
		labels["jumpbox"]["reachgate-role"] != "in-vpc-client" || len(labels["hub-vm"]) != 0 {
		t.Errorf("labels: %v", labels)
	}

	ac, err := compute.NewInterconnectAttachmentsRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	var list []*computepb.InterconnectAttachment
	ait := ac.List(ctx, &computepb.ListInterconnectAttachmentsRequest{Project: "p", Region: "us-central1"})
	for {
		a, err := ait.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, a)
	}
	if len(list) != 1 || list[0].GetName() != "tp-interconnect" || list[0].GetRouter() != s.link("regions", "us-central1", "routers", "hub-router") ||
		list[0].GetType() != "PARTNER" || list[0].GetState() != "ACTIVE" || list[0].GetOperationalStatus() != "OS_ACTIVE" || !list[0].GetAdminEnabled() {
		t.Fatalf("list us-central1: %v", list)
	}
	a, err := ac.Get(ctx, &computepb.GetInterconnectAttachmentRequest{Project: "p", Region: "us-central1", InterconnectAttachment: "tp-interconnect"})
	if err != nil || a.GetId() != list[0].GetId() || a.GetSelfLink() != s.link("regions", "us-central1", "interconnectAttachments", "tp-interconnect") {
		t.Errorf("get: %v %v", a, err)
	}
	var keys []string
	agg := ac.AggregatedList(ctx, &computepb.AggregatedListInterconnectAttachmentsRequest{Project: "p"})
	for {
		pair, err := agg.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range pair.Value.GetInterconnectAttachments() {
			keys = append(keys, pair.Key+"/"+a.GetName())
		}
	}
	if !slices.Equal(keys, []string{"regions/us-central1/tp-interconnect"}) {
		t.Errorf("aggregatedList: %v", keys)
	}
}
