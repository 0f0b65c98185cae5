package lint

import (
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"

	"reachgate/framework/findings"
	"reachgate/framework/topology"
)

// topologyFile is a parsed reachgate topology with its node tree for line numbers.
type topologyFile struct {
	t   *topology.Topology
	doc *doc
}

func parseTopology(file string, data []byte) (*topologyFile, *InputError) {
	t, err := topology.Parse(file, data)
	if err != nil {
		var te *topology.Error
		if errors.As(err, &te) {
			msg := te.Msg
			if te.Field != "" {
				msg = te.Field + ": " + msg
			}
			return nil, &InputError{File: file, Line: te.Line, Msg: "topology: " + msg}
		}
		return nil, &InputError{File: file, Msg: err.Error()}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil, &InputError{File: file, Line: 1, Msg: "topology: cannot read the YAML again for line numbers"}
	}
	return &topologyFile{t: t, doc: &doc{file: file, lines: strings.Split(string(data), "\n"), node: root.Content[0], kind: topology.Kind}}, nil
}

// topologyDetectors are the checks of topology files, by the name the catalog uses.
var topologyDetectors = map[string]func(*topologyFile) []findings.Finding{
	"lint.topologyPeeringImport": topologyPeeringImport,
	"lint.topologyCrossRegion":   topologyCrossRegion,
}

func runTopology(t *topologyFile) []findings.Finding {
	var out []findings.Finding
	for _, name := range sortedKeys(topologyDetectors) {
		out = append(out, topologyDetectors[name](t)...)
	}
	return out
}

// topologyPeeringImport flags importCustomRoutes on the customer side of the GKE peering.
func topologyPeeringImport(f *topologyFile) []findings.Finding {
	c := f.t.Cluster
	if c == nil {
		return nil
	}
	var out []findings.Finding
	for i, l := range f.t.Links {
		if l.Type != topology.LinkPeering || l.Name != c.Peering {
			continue
		}
		for side, e := range []topology.Endpoint{l.A, l.B} {
			if e.VPC == c.VPC && e.ImportCustomRoutes {
				out = append(out, findings.New("RG-PEER-001", f.doc.evidence("spec", "links", i, string(rune('a'+side)), "importCustomRoutes"),
					"peering %s imports custom routes into %s: only exportCustomRoutes is needed there", l.Name, e.VPC))
			}
		}
	}
	return out
}

// region is a location's region: us-central1-c -> us-central1.
func region(location string) string {
	parts := strings.Split(location, "-")
	if len(parts) == 3 && len(parts[2]) == 1 {
		return parts[0] + "-" + parts[1]
	}
	return location
}

// topologyCrossRegion flags a VPN or interconnect whose GCP router is in another region than
// the cluster while the router's VPC routes dynamically per region.
func topologyCrossRegion(f *topologyFile) []findings.Finding {
	c := f.t.Cluster
	if c == nil {
		return nil
	}
	want := region(c.Location)
	var out []findings.Finding
	for i, l := range f.t.Links {
		if l.Type != topology.LinkVPN && l.Type != topology.LinkInterconnect {
			continue
		}
		for _, side := range []string{"a", "b"} {
			e := l.A
			if side == "b" {
				e = l.B
			}
			n := f.t.Network(e.VPC)
			if n == nil || !n.GCP() || e.Router == "" {
				continue
			}
			r := n.Router(e.Router)
			if r == nil || r.Region == want || n.RoutingMode == topology.RoutingGlobal {
				continue
			}
			out = append(out, findings.New("RG-NET-001", f.doc.evidence("spec", "links", i, side, "router"),
				"%s %s ends at router %s in %s, the cluster is in %s, and VPC %s routes %s: routes it learns never reach %s",
				l.Type, l.Name, r.Name, r.Region, want, n.Name, n.RoutingMode, want))
		}
	}
	return out
}
