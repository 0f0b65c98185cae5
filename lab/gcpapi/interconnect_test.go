package gcpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"reachgate/lab"
)

// interconnectAttachments: seed's tp-interconnect, on the hub's router in us-central1.
func TestInterconnectAttachments(t *testing.T) {
	s, hs := newServerWith(t, "seed.yaml", &lab.CloudState{})
	base := hs.URL + "/compute/v1/projects/p/"
	code, list := call(t, http.MethodGet, base+"regions/us-central1/interconnectAttachments", "")
	items, _ := list["items"].([]any)
	if code != 200 || list["kind"] != "compute#interconnectAttachmentList" || list["selfLink"] != s.link("regions", "us-central1", "interconnectAttachments") ||
		list["id"] == nil || len(items) != 1 {
		t.Fatalf("list us-central1: %d %v; want tp-interconnect", code, list)
	}
	a := items[0].(map[string]any)
	if a["name"] != "tp-interconnect" || a["kind"] != "compute#interconnectAttachment" || a["router"] != s.link("regions", "us-central1", "routers", "hub-router") ||
		a["region"] != s.link("regions", "us-central1") || a["selfLink"] != s.link("regions", "us-central1", "interconnectAttachments", "tp-interconnect") ||
		a["type"] != "PARTNER" || a["state"] != "ACTIVE" || a["operationalStatus"] != "OS_ACTIVE" || a["adminEnabled"] != true ||
		a["id"] == nil || a["creationTimestamp"] != "2025-03-04T05:06:07.000+00:00" {
		t.Errorf("tp-interconnect: %v", a)
	}
	code, got := call(t, http.MethodGet, base+"regions/us-central1/interconnectAttachments/tp-interconnect", "")
	if code != 200 || got["id"] != a["id"] || got["router"] != a["router"] {
		t.Errorf("get: %d %v", code, got)
	}
	if code, list := call(t, http.MethodGet, base+"regions/europe-west3/interconnectAttachments", ""); code != 200 || list["items"] != nil {
		t.Errorf("list europe-west3: %d %v; want no items", code, list)
	}
	for _, path := range []string{"regions/us-central1/interconnectAttachments/nope", "regions/europe-west3/interconnectAttachments/tp-interconnect",
		"regions/us-central1/interconnectAttachments/hub-to-gke"} {
		code, out := call(t, http.MethodGet, base+path, "")
		e, _ := out["error"].(map[string]any)
		if code != 404 || e == nil || e["message"] != "The resource 'projects/p/"+path+"' was not found" {
			t.Errorf("GET %s: %d %v; want 404", path, code, out)
		}
	}
	code, agg := call(t, http.MethodGet, base+"aggregated/interconnectAttachments", "")
	byRegion, _ := agg["items"].(map[string]any)
	us, _ := byRegion["regions/us-central1"].(map[string]any)
	usItems, _ := us["interconnectAttachments"].([]any)
	if code != 200 || agg["kind"] != "compute#interconnectAttachmentAggregatedList" || agg["selfLink"] != s.link("aggregated", "interconnectAttachments") ||
		len(byRegion) != 1 || len(usItems) != 1 || usItems[0].(map[string]any)["name"] != "tp-interconnect" {
		t.Errorf("aggregatedList: %d %v", code, agg)
	}
	// Only PARTNER attachments are inserted (the lab has no Dedicated Interconnect ports).
	if code, e := call(t, http.MethodPost, base+"regions/us-central1/interconnectAttachments", `{"name":"x","type":"DEDICATED"}`); code != 400 || !strings.Contains(fmt.Sprint(e), "PARTNER") {
		t.Errorf("insert DEDICATED: %d %v; want 400 naming PARTNER", code, e)
	}
	if code, _ := call(t, http.MethodPut, base+"regions/us-central1/interconnectAttachments/tp-interconnect", `{}`); code != 405 {
		t.Errorf("PUT: %d; want 405", code)
	}
}
