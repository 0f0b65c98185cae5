package gcp

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// CallCounts counts the API calls a Cloud makes, by method as the API reference names it
// (networks.insert, routers.getRouterStatus, clusters.create, regionOperations.wait): the
// footprint of a run on a project's quota and audit log, the same on Google as on the lab.
type CallCounts struct {
	mu sync.Mutex
	n  map[string]int
}

// Snapshot is the counts so far.
func (c *CallCounts) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// String is "total N: a.b=1, c.d=2" in name order.
func (c *CallCounts) String() string {
	snap := c.Snapshot()
	total := 0
	parts := make([]string, 0, len(snap))
	for _, k := range slices.Sorted(maps.Keys(snap)) {
		total += snap[k]
		parts = append(parts, fmt.Sprintf("%s=%d", k, snap[k]))
	}
	return fmt.Sprintf("total %d: %s", total, strings.Join(parts, ", "))
}

func (c *CallCounts) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

// RoundTrip counts the request and passes it on.
type countingTransport struct {
	next   http.RoundTripper
	counts *CallCounts
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.counts.add(apiMethod(r.Method, r.URL.Path))
	return t.next.RoundTrip(r)
}

// apiMethod names a REST call as the API reference does: the collection and the method
// (the standard ones from the HTTP verb, custom ones from the path or a ":verb" suffix).
// compute: /compute/v1/projects/P/{global|regions/R|zones/Z|aggregated}/COLL[/NAME[/VERB]];
// container: /v1/projects/P/locations/L/COLL[/NAME[:VERB]].
func apiMethod(method, path string) string {
	p := strings.Split(strings.Trim(path, "/"), "/")
	i := slices.Index(p, "projects")
	if i < 0 || i+2 > len(p) {
		return method + " " + path
	}
	container := i > 0 && p[i-1] == "v1" && (i < 2 || p[i-2] != "compute")
	p = p[i+2:]
	aggregated := false
	switch {
	case len(p) > 0 && (p[0] == "global"):
		p = p[1:]
	case len(p) > 0 && p[0] == "aggregated":
		aggregated, p = true, p[1:]
	case len(p) > 1 && (p[0] == "regions" || p[0] == "zones" || p[0] == "locations"):
		scope := p[0]
		p = p[2:]
		if len(p) > 0 && p[0] == "operations" {
			// regionOperations, zoneOperations (container: operations).
			if scope != "locations" {
				p[0] = strings.TrimSuffix(scope, "s") + "Operations"
			}
		}
	}
	if len(p) > 0 && p[0] == "operations" && !container {
		p[0] = "globalOperations"
	}
	if len(p) == 0 {
		return method + " " + path
	}
	coll := p[0]
	if aggregated {
		return coll + ".aggregatedList"
	}
	if len(p) == 1 {
		if method == http.MethodPost && container {
			return coll + ".create"
		}
		if method == http.MethodPost {
			return coll + ".insert"
		}
		return coll + ".list"
	}
	name := p[1]
	if k := strings.LastIndex(name, ":"); k >= 0 {
		return coll + "." + name[k+1:]
	}
	if len(p) >= 3 {
		return coll + "." + p[2]
	}
	switch method {
	case http.MethodGet:
		return coll + ".get"
	case http.MethodDelete:
		return coll + ".delete"
	case http.MethodPatch:
		return coll + ".patch"
	case http.MethodPut:
		return coll + ".update"
	}
	return coll + "." + strings.ToLower(method)
}
