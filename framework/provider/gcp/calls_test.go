package gcp

import "testing"

func TestAPIMethod(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/compute/v1/projects/p/global/networks", "networks.insert"},
		{"GET", "/compute/v1/projects/p/global/networks", "networks.list"},
		{"GET", "/compute/v1/projects/p/global/networks/rg-a-gke", "networks.get"},
		{"DELETE", "/compute/v1/projects/p/global/networks/rg-a-gke", "networks.delete"},
		{"POST", "/compute/v1/projects/p/global/networks/rg-a-gke/addPeering", "networks.addPeering"},
		{"PATCH", "/compute/v1/projects/p/regions/us-central1/routers/r", "routers.patch"},
		{"GET", "/compute/v1/projects/p/regions/us-central1/routers/r/getRouterStatus", "routers.getRouterStatus"},
		{"GET", "/compute/v1/projects/p/aggregated/instances", "instances.aggregatedList"},
		{"POST", "/compute/v1/projects/p/zones/us-central1-c/instances/vm/setMetadata", "instances.setMetadata"},
		{"POST", "/compute/v1/projects/p/regions/us-central1/operations/op-1/wait", "regionOperations.wait"},
		{"GET", "/compute/v1/projects/p/zones/z/operations/op-1", "zoneOperations.get"},
		{"POST", "/compute/v1/projects/p/global/operations/op-1/wait", "globalOperations.wait"},
		{"POST", "/v1/projects/p/locations/us-central1-c/clusters", "clusters.create"},
		{"GET", "/v1/projects/p/locations/us-central1-c/clusters/c", "clusters.get"},
		{"POST", "/v1/projects/p/locations/us-central1-c/clusters/c:setMasterAuth", "clusters.setMasterAuth"},
		{"GET", "/v1/projects/p/locations/us-central1-c/operations/op-2", "operations.get"},
		{"GET", "/elsewhere", "GET /elsewhere"},
	} {
		if got := apiMethod(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	var c CallCounts
	c.add("networks.insert")
	c.add("networks.insert")
	c.add("clusters.get")
	if got := c.String(); got != "total 3: clusters.get=1, networks.insert=2" {
		t.Errorf("String: %q", got)
	}
}
