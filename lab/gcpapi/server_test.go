package gcpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/netns"
)

func newServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	topo, err := topology.ParseFile("../../fixtures/topologies/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir()}, Topology: topo, Current: topo}}
	hs := httptest.NewUnstartedServer(nil)
	s := New(lc, "p", "http://"+hs.Listener.Addr().String())
	hs.Config.Handler = s
	hs.Start()
	t.Cleanup(hs.Close)
	return s, hs
}

func call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, out
}

// A slow mutation is answered RUNNING, and regionOperations.wait returns it DONE.
func TestOperationRunningThenDone(t *testing.T) {
	s, hs := newServer(t)
	s.apply = func(f func() error) error { time.Sleep(2 * quickWait); return f() }
	base := hs.URL + "/compute/v1/projects/p/regions/us-central1/"
	code, op := call(t, http.MethodPost, base+"addresses",
		`{"name":"vip","address":"10.128.0.28","addressType":"INTERNAL","subnetwork":"https://www.googleapis.com/compute/v1/projects/p/regions/us-central1/subnetworks/default"}`)
	if code != 200 || op["status"] != "RUNNING" || op["kind"] != "compute#operation" {
		t.Fatalf("insert: %d %v; want 200 and a RUNNING operation", code, op)
	}
	if !strings.HasSuffix(op["selfLink"].(string), "/regions/us-central1/operations/"+op["name"].(string)) {
		t.Errorf("selfLink %v", op["selfLink"])
	}
	code, op = call(t, http.MethodPost, base+"operations/"+op["name"].(string)+"/wait", "")
	if code != 200 || op["status"] != "DONE" || op["error"] != nil {
		t.Fatalf("wait: %d %v; want DONE without error", code, op)
	}
	code, a := call(t, http.MethodGet, base+"addresses/vip", "")
	if code != 200 || a["address"] != "10.128.0.28" || a["status"] != "RESERVED" || !strings.HasSuffix(a["subnetwork"].(string), "/subnetworks/default") {
		t.Errorf("get: %d %v", code, a)
	}
}

// Google's error bodies with the right codes: 409 for a name that exists, 404 for what is not
// there, 400 for what the lab cannot do.
func TestErrorBodies(t *testing.T) {
	_, hs := newServer(t)
	base := hs.URL + "/compute/v1/projects/p/regions/us-central1/"
	body := `{"name":"vip","address":"10.128.0.28","addressType":"INTERNAL","subnetwork":"default"}`
	if code, _ := call(t, http.MethodPost, base+"addresses", body); code != 200 {
		t.Fatalf("first insert: %d", code)
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		reason             string
	}{
		{http.MethodPost, "addresses", body, 409, "alreadyExists"},
		{http.MethodGet, "addresses/nope", "", 404, "notFound"},
		{http.MethodDelete, "addresses/nope", "", 404, "notFound"},
		{http.MethodGet, "operations/nope", "", 404, "notFound"},
		{http.MethodPost, "addresses", `{"name":"ext","addressType":"EXTERNAL"}`, 400, "invalid"},
		{http.MethodPost, "addresses", `{"name":`, 400, "parseError"},
	} {
		code, out := call(t, tc.method, base+tc.path, tc.body)
		e, _ := out["error"].(map[string]any)
		errs, _ := e["errors"].([]any)
		if code != tc.code || e == nil || int(e["code"].(float64)) != tc.code || len(errs) != 1 || errs[0].(map[string]any)["reason"] != tc.reason {
			t.Errorf("%s %s: got %d %v; want %d with reason %s", tc.method, tc.path, code, out, tc.code, tc.reason)
		}
	}
}

// Concurrent clients: reads and inserts at once are served consistently (run with -race):
// every insert lands, and every read answers 200.
func TestConcurrentClients(t *testing.T) {
	_, hs := newServer(t)
	base := hs.URL + "/compute/v1/projects/p/"
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"name":"vip-%d","address":"10.128.0.%d","addressType":"INTERNAL","subnetwork":"default"}`, i, 40+i)
			if code, op := call(t, http.MethodPost, base+"regions/us-central1/addresses", body); code != 200 || op["error"] != nil {
				errs <- fmt.Sprintf("insert vip-%d: %d %v", i, code, op)
			}
		}()
		go func() {
			defer wg.Done()
			for _, path := range []string{"aggregated/routers", "global/networks", "regions/us-central1/subnetworks", "regions/us-central1/addresses"} {
				if code, out := call(t, http.MethodGet, base+path, ""); code != 200 {
					errs <- fmt.Sprintf("GET %s: %d %v", path, code, out)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	_, list := call(t, http.MethodGet, base+"regions/us-central1/addresses", "")
	if items, _ := list["items"].([]any); len(items) != 8 {
		t.Errorf("after 8 concurrent inserts the list has %d addresses: %v", len(items), list)
	}
}
