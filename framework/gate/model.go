package gate

import (
	"fmt"
	"net/netip"
	"slices"

	"go.yaml.in/yaml/v3"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
)

// model is a snapshot's topology with its routes computed.
type model struct {
	topo *topology.Topology
	m    *netmodel.Model
}

// computeModel parses f (as the topology parser checks any file) and computes its routes;
// links a solution creates count only once the solution is applied, as everywhere else in
// reachgate.
func computeModel(name string, f *topology.File) (*model, error) {
	data, err := yaml.Marshal(f)
	if err != nil {
		return nil, err
	}
	t, err := topology.Parse(name, data)
	if err != nil {
		return nil, err
	}
	m, err := netmodel.Compute(t.Active(nil))
	if err != nil {
		return nil, err
	}
	return &model{topo: t, m: m}, nil
}

// model is the snapshot's model, computed; nil without one.
func (s *Snapshot) model() (*model, error) {
	if s.Model == nil {
		return nil, nil
	}
	return computeModel("the snapshot's model", s.Model)
}

// trace judges a TCP flow from host from to to.
func (m *model) trace(from string, to netip.AddrPort) (netmodel.Trace, error) {
	h := m.topo.Host(from)
	if h == nil {
		return netmodel.Trace{}, fmt.Errorf("the model has no host %s", from)
	}
	return m.m.TraceFlow(h.IP, to.Addr(), netmodel.Flow{Proto: "tcp", Port: to.Port()}), nil
}

// compareModels names the firewall rules and links that differ between two models.
func compareModels(base, cur *topology.File, add func(what, before, after string, regression bool)) {
	rules := func(f *topology.File) map[string]string {
		out := map[string]string{}
		for _, v := range f.Spec.VPCs {
			for _, r := range v.Firewall {
				out[fmt.Sprintf("firewall rule %s (network %s)", r.Name, v.Name)] = ruleText(r)
			}
		}
		return out
	}
	links := func(f *topology.File) map[string]string {
		out := map[string]string{}
		for _, l := range f.Spec.Links {
			out[fmt.Sprintf("%s link %s", l.Type, l.Name)] = fmt.Sprintf("%s <-> %s", l.A.VPC, l.B.VPC)
		}
		return out
	}
	for _, pair := range [][2]map[string]string{{rules(base), rules(cur)}, {links(base), links(cur)}} {
		b, c := pair[0], pair[1]
		for _, k := range sortedKeys(b, c) {
			before, ok := b[k]
			if !ok {
				before = "absent"
			}
			after, ok := c[k]
			if !ok {
				after = "absent"
			}
			add(k, before, after, false)
		}
	}
}

// ruleText writes a rule in one line: action, priority, sources, ports, targets.
func ruleText(r topology.FirewallRule) string {
	action, prio, ports := "allow", topology.DefaultFirewallPriority, "all"
	if r.Action != "" {
		action = r.Action
	}
	if r.Priority != nil {
		prio = *r.Priority
	}
	if len(r.Ports) > 0 {
		ports = list(r.Ports)
	}
	s := fmt.Sprintf("%s %s from %s, priority %d", action, ports, list(r.SourceRanges), prio)
	if len(r.TargetTags) > 0 {
		s += ", targets " + list(r.TargetTags)
	}
	return s
}

func sortedKeys(ms ...map[string]string) []string {
	var out []string
	for _, m := range ms {
		for k := range m {
			out = append(out, k)
		}
	}
	return slices.Compact(sorted(out))
}
