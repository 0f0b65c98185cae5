package gcpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"reachgate/framework/pki"
	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/controlplane"
	"reachgate/lab/netns"
)

// clusters.list: the lab's cluster at its location and at "-", none elsewhere.
func TestClustersList(t *testing.T) {
	topo, err := topology.ParseFile("../../fixtures/topologies/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("test cluster CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir()}, Topology: topo, Current: topo, Cloud: &lab.CloudState{},
		CP: &controlplane.ControlPlane{CA: ca}}}
	hs := httptest.NewUnstartedServer(nil)
	hs.Config.Handler = New(lc, "p", "http://"+hs.Listener.Addr().String())
	hs.Start()
	defer hs.Close()

	for _, loc := range []string{"-", "us-central1-c"} {
		code, out := call(t, http.MethodGet, hs.URL+"/v1/projects/p/locations/"+loc+"/clusters", "")
		cs, _ := out["clusters"].([]any)
		if code != 200 || len(cs) != 1 {
			t.Fatalf("list %s: %d %v; want the cluster", loc, code, out)
		}
		c := cs[0].(map[string]any)
		pcc, _ := c["privateClusterConfig"].(map[string]any)
		if c["name"] != "private-cluster" || c["location"] != "us-central1-c" || c["status"] != "RUNNING" || c["id"] == nil ||
			c["createTime"] == nil || pcc["privateEndpoint"] != "192.168.32.34" || c["selfLink"] != hs.URL+"/v1/projects/p/locations/us-central1-c/clusters/private-cluster" {
			t.Errorf("list %s: cluster %v", loc, c)
		}
		// The listed cluster is the one clusters.get returns.
		_, got := call(t, http.MethodGet, hs.URL+"/v1/projects/p/locations/us-central1-c/clusters/private-cluster", "")
		if got["id"] != c["id"] || got["endpoint"] != c["endpoint"] {
			t.Errorf("get %v differs from the listed %v", got, c)
		}
	}
	if code, out := call(t, http.MethodGet, hs.URL+"/v1/projects/p/locations/europe-west3/clusters", ""); code != 200 || out["clusters"] != nil {
		t.Errorf("list europe-west3: %d %v; want none", code, out)
	}
	if code, _ := call(t, http.MethodGet, hs.URL+"/v1/projects/other/locations/-/clusters", ""); code != 404 {
		t.Errorf("list another project: %d; want 404", code)
	}
}
