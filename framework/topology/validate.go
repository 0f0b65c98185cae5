package topology

import (
	"fmt"
	"regexp"
	"strings"
)

// Name rules. Names are RFC 1035 labels, as in GCP; the topology's own name is
// shorter because it is part of Linux network namespace names.
const (
	maxTopologyName = 20
	maxName         = 63
	maxClusterName  = 40 // GKE's limit
)

var (
	reName     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	reLocation = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	reVersion  = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)
)

// Clouds a VPC may declare.
var clouds = []string{CloudGCP, "aws", "azure", "other"}

// checker validates a decoded file against its resolved model, recording every
// problem. The resolved slices have the file's order, so index i of
// t.Networks is spec.vpcs[i], and so on.
type checker struct {
	problems
	f *File
	t *Topology
}

// validate returns every problem of the file, in file order.
func validate(file string, loc *locator, f *File, t *Topology) []*Error {
	c := &checker{problems: problems{file: file, loc: loc}, f: f, t: t}
	c.header()
	c.vpcs()
	c.hosts()
	c.links()
	c.serviceNetworking()
	c.cluster()
	return sorted(c.list)
}

func (c *checker) header() {
	if c.f.APIVersion != APIVersion {
		c.fixed("apiVersion", c.f.APIVersion, APIVersion)
	}
	if c.f.Kind != Kind {
		c.fixed("kind", c.f.Kind, Kind)
	}
	c.name("metadata.name", "topology", c.f.Metadata.Name, "seed", maxTopologyName)
}

// fixed reports a field that must hold exactly want.
func (c *checker) fixed(path, got, want string) {
	if got == "" {
		c.add(path, "is required (write %s: %s)", path, want)
		return
	}
	c.add(path, "%q is not supported (write %s: %s)", got, path, want)
}

// name checks that s is a valid name for a what, e.g. "VPC", of at most max characters.
func (c *checker) name(path, what, s, example string, max int) bool {
	switch {
	case s == "":
		c.add(path, "is required (name the %s, e.g. name: %s)", what, example)
	case len(s) > max && max == maxTopologyName:
		c.add(path, "%q is %d characters long (shorten it to at most %d: it is part of Linux network namespace names)", s, len(s), max)
	case len(s) > max:
		c.add(path, "%q is %d characters long (shorten it to at most %d)", s, len(s), max)
	case !reName.MatchString(s):
		c.add(path, "%q is not a valid name (use lowercase letters, digits and '-', starting with a letter and not ending with '-')", s)
	default:
		return true
	}
	return false
}

// unique reports a name already used in its scope; seen maps names to their paths.
func (c *checker) unique(seen map[string]string, path, what, s string) {
	if s == "" {
		return
	}
	if first, ok := seen[s]; ok {
		c.add(path, "%s name %q is already used at line %d (rename one of them)", what, s, c.loc.line(first))
		return
	}
	seen[s] = path
}

// location checks a region (or, for a cluster, a zone) name.
func (c *checker) location(path, s, example string) {
	switch {
	case s == "":
		c.add(path, "is required (write a region like %s)", example)
	case !reLocation.MatchString(s):
		c.add(path, "%q is not a region or zone name (use lowercase letters, digits and '-', like %s)", s, example)
	}
}

// cidr reports a CIDR that is missing, invalid, not IPv4 or not canonical.
func (c *checker) cidr(path, s string) bool {
	if msg := cidrProblem(s); msg != "" {
		c.add(path, "%s", msg)
		return false
	}
	return true
}

// oneOf reports s when it is not one of values; "" is allowed when optional.
func (c *checker) oneOf(path, what, s string, optional bool, values ...string) {
	if s == "" && optional {
		return
	}
	for _, v := range values {
		if s == v {
			return
		}
	}
	if s == "" {
		c.add(path, "is required (write %s)", orList(values))
		return
	}
	c.add(path, "%q is not a valid %s (write %s)", s, what, orList(values))
}

// orList is "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// names lists the defined names for "not defined" hints.
func names[T any](items []T, name func(T) string) string {
	var out []string
	for _, it := range items {
		if n := name(it); n != "" {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// network checks a reference to a VPC and returns it (nil if it does not exist).
func (c *checker) network(path, vpc string) *Network {
	if vpc == "" {
		c.add(path, "is required (name a VPC: %s)", names(c.t.Networks, func(n *Network) string { return n.Name }))
		return nil
	}
	n := c.t.Network(vpc)
	if n == nil {
		c.add(path, "VPC %q is not defined (defined VPCs: %s)", vpc, names(c.t.Networks, func(n *Network) string { return n.Name }))
	}
	return n
}

// subnetOf checks a reference to a subnet of n and returns it (nil if it does not exist).
func (c *checker) subnetOf(path string, n *Network, subnet string) *Subnetwork {
	list := names(n.Subnets, func(s *Subnetwork) string { return s.Name })
	if subnet == "" {
		c.add(path, "is required (name a subnet of VPC %q: %s)", n.Name, list)
		return nil
	}
	s := n.Subnet(subnet)
	if s == nil {
		c.add(path, "subnet %q is not in VPC %q (its subnets: %s)", subnet, n.Name, list)
	}
	return s
}

func at(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
