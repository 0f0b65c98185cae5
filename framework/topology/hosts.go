package topology

import "net/netip"

func (c *checker) hosts() {
	seen := map[string]string{}
	ips := map[netip.Addr]int{} // address -> index of the first host with it
	for i, h := range c.f.Spec.Hosts {
		p, m := at("spec.hosts", i), c.t.Hosts[i]
		if c.name(p+".name", "host", h.Name, "tp-vm", maxName) {
			c.unique(seen, p+".name", "host", h.Name)
		}
		c.oneOf(p+".role", "role", h.Role, true, RoleVM, RoleThirdPartyClient, RoleInVPCClient, RoleNode, RoleControlPlane, RoleManagedService)
		c.clientRole(p, h)
		for k, tag := range h.Tags {
			c.name(at(p+".tags", k), "tag", tag, "gke-node", maxName)
		}
		var sub *Subnetwork
		if n := c.network(p+".vpc", h.VPC); n != nil {
			sub = c.subnetOf(p+".subnet", n, h.Subnet)
		}
		example := "10.128.0.2"
		if sub != nil && sub.CIDR.IsValid() {
			example = sub.CIDR.Addr().Next().Next().String()
		}
		if msg := addrProblem(h.IP, example); msg != "" {
			c.add(p+".ip", "%s", msg)
			continue
		}
		if first, ok := ips[m.IP]; ok {
			c.add(p+".ip", "%s is already the address of host %q (line %d) (give each host its own address)", m.IP, c.f.Spec.Hosts[first].Name, c.loc.line(at("spec.hosts", first)+".ip"))
		} else {
			ips[m.IP] = i
		}
		if sub != nil && sub.CIDR.IsValid() {
			c.hostAddress(p+".ip", m.IP, sub)
		}
	}
}

// hostAddress checks that ip is a usable address of subnet s: inside it, and
// not the network address, the gateway (GCP's first address) or the broadcast address.
func (c *checker) hostAddress(path string, ip netip.Addr, s *Subnetwork) {
	p := s.CIDR
	var what string
	switch {
	case !p.Contains(ip):
		what = "is outside"
	case ip == p.Addr():
		what = "is the network address of"
	case ip == p.Addr().Next():
		what = "is the gateway of"
	case ip == lastAddr(p):
		what = "is the broadcast address of"
	default:
		return
	}
	if r := usable(p); r != "" {
		c.add(path, "%s %s subnet %q (%s) (pick an address from %s)", ip, what, s.Name, p, r)
	} else {
		c.add(path, "%s %s subnet %q (%s), which has no address for a host (make the subnet larger)", ip, what, s.Name, p)
	}
}

// clientRole checks that a client role sits on its side of the clouds: a third-party client
// outside GCP, an in-VPC client in a customer GCP VPC.
func (c *checker) clientRole(p string, h Host) {
	n := c.t.Network(h.VPC)
	if n == nil {
		return
	}
	switch {
	case h.Role == RoleThirdPartyClient && n.GCP():
		c.add(p+".role", "role third-party-client needs a VPC of the third-party cloud, and %q is a gcp VPC (move the host, or use role: in-vpc-client)", h.VPC)
	case h.Role == RoleInVPCClient && (!n.GCP() || n.ManagedBy != ""):
		c.add(p+".role", "role in-vpc-client needs a customer GCP VPC, and %q is not one (move the host, or use role: third-party-client or vm)", h.VPC)
	}
}
