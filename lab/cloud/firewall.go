package cloud

import (
	"context"
	"fmt"

	"reachgate/framework/topology"
	"reachgate/lab"
)

// Firewall rules of the customer's GCP VPCs, as compute's firewalls.insert, patch and delete
// change them: recorded in the lab's cloud state, then realized (the filters of every router
// namespace come from the model).

// Firewall returns the rule of that name and its VPC, as it is now.
func (c Lab) Firewall(name string) (network string, rule *topology.Rule, ok bool) {
	for _, n := range c.L.Current.Networks {
		for _, r := range n.Firewall {
			if r.Name == name {
				return n.Name, r, true
			}
		}
	}
	return "", nil, false
}

// InsertFirewall adds a rule to a customer GCP VPC; the name must be new in the project.
func (c Lab) InsertFirewall(ctx context.Context, network string, r topology.Rule) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	if n, _, ok := c.Firewall(r.Name); ok {
		return fmt.Errorf("firewall rule %q already exists (in network %s)", r.Name, n)
	}
	return c.putFirewall(ctx, network, r)
}

// PatchFirewall replaces an existing rule (its network stays).
func (c Lab) PatchFirewall(ctx context.Context, r topology.Rule) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	network, _, ok := c.Firewall(r.Name)
	if !ok {
		return fmt.Errorf("firewall rule %q does not exist", r.Name)
	}
	return c.putFirewall(ctx, network, r)
}

// DeleteFirewall removes a rule.
func (c Lab) DeleteFirewall(ctx context.Context, name string) error {
	if err := c.L.Refresh(); err != nil {
		return err
	}
	network, _, ok := c.Firewall(name)
	if !ok {
		return fmt.Errorf("firewall rule %q does not exist", name)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		if cs.Firewalls == nil {
			cs.Firewalls = map[string]lab.FirewallChange{}
		}
		cs.Firewalls[name] = lab.FirewallChange{Network: network, Deleted: true}
		return nil
	})
}

// putFirewall checks a rule as the topology's schema does and records it.
func (c Lab) putFirewall(ctx context.Context, network string, r topology.Rule) error {
	n := c.L.Current.Network(network)
	if n == nil || !n.GCP() || n.ManagedBy != "" {
		return fmt.Errorf("network %q does not exist in this project (firewall rules apply to the customer's GCP VPCs)", network)
	}
	if r.Priority < 0 || r.Priority > topology.ImpliedRulePriority {
		return fmt.Errorf("firewall rule %q: priority %d is out of range 0 to %d", r.Name, r.Priority, topology.ImpliedRulePriority)
	}
	if len(r.Sources) == 0 {
		return fmt.Errorf("firewall rule %q: the lab models ingress rules by source range: give sourceRanges", r.Name)
	}
	if len(r.Ports) == 0 {
		return fmt.Errorf("firewall rule %q: give allowed or denied protocols", r.Name)
	}
	return c.change(ctx, func(cs *lab.CloudState) error {
		if cs.Firewalls == nil {
			cs.Firewalls = map[string]lab.FirewallChange{}
		}
		cs.Firewalls[r.Name] = lab.FirewallChange{Network: network, Rule: &r}
		return nil
	})
}
