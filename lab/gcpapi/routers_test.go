package gcpapi

import (
	"net/http"
	"net/netip"
	"testing"

	"reachgate/framework/cloud"
)

// routers.list: the customer VPCs' Cloud Routers of the region, as routers.get shows them
// (the third-party cloud's router is not one).
func TestRoutersList(t *testing.T) {
	cs := haVPNState()
	cs.BGPPeers = map[string][]cloud.RouterBgpPeer{"gke/gke-router": {{Name: "peer-0", Tunnel: "tunnel-0",
		IPAddress: netip.MustParseAddr("169.254.0.1"), PeerIPAddress: netip.MustParseAddr("169.254.0.2"), PeerAsn: 64512}}}
	s, hs := newServerWith(t, "bgp-export.yaml", cs)
	code, list := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/regions/us-central1/routers", "")
	items, _ := list["items"].([]any)
	if code != 200 || list["kind"] != "compute#routerList" || list["selfLink"] != s.link("regions", "us-central1", "routers") ||
		list["id"] != "projects/p/regions/us-central1/routers" || len(items) != 1 {
		t.Fatalf("list: %d %v; want gke-router only", code, list)
	}
	rt := items[0].(map[string]any)
	peers, _ := rt["bgpPeers"].([]any)
	if rt["name"] != "gke-router" || rt["kind"] != "compute#router" || rt["network"] != s.link("global", "networks", "gke") ||
		rt["creationTimestamp"] == nil || len(peers) != 1 || peers[0].(map[string]any)["peerIpAddress"] != "169.254.0.2" {
		t.Errorf("router %v", rt)
	}
	_, got := call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/regions/us-central1/routers/gke-router", "")
	if got["id"] != rt["id"] || got["selfLink"] != rt["selfLink"] {
		t.Errorf("get %v differs from the listed %v", got, rt)
	}
	code, list = call(t, http.MethodGet, hs.URL+"/compute/v1/projects/p/regions/us-east-1/routers", "")
	if code != 200 || list["items"] != nil {
		t.Errorf("list us-east-1: %d %v; want no items (tp-router is the third-party cloud's)", code, list)
	}
}
