package topology

// cluster checks spec.cluster and the hosts whose role belongs to it.
func (c *checker) cluster() {
	cl, g := c.f.Spec.Cluster, c.t.Cluster
	if cl == nil {
		for i, h := range c.t.Hosts {
			if h.Role == RoleNode || h.Role == RoleControlPlane {
				c.add(at("spec.hosts", i)+".role", "role %s needs a cluster (add spec.cluster, or use role: vm)", h.Role)
			}
		}
		return
	}
	const p = "spec.cluster"
	c.name(p+".name", "cluster", cl.Name, "private-cluster", maxClusterName)
	if cl.Location == "" {
		c.add(p+".location", "is required (write the cluster's region or zone, like us-central1-c)")
	} else {
		c.location(p+".location", cl.Location, "us-central1-c")
	}
	if cl.KubernetesVersion != "" && !reVersion.MatchString(cl.KubernetesVersion) {
		c.add(p+".kubernetesVersion", "%q is not a version like %s (write vMAJOR.MINOR.PATCH, or leave it out for %s)", cl.KubernetesVersion, DefaultK8sVersion, DefaultK8sVersion)
	}
	vpc := c.network(p+".vpc", cl.VPC)
	var sub *Subnetwork
	if vpc != nil {
		sub = c.subnetOf(p+".subnet", vpc, cl.Subnet)
	}
	if sub != nil {
		c.secondaryRef(p+".podRange", sub, cl.PodRange, "gke-pods")
		c.secondaryRef(p+".serviceRange", sub, cl.ServiceRange, "gke-services")
		if cl.PodRange != "" && cl.PodRange == cl.ServiceRange {
			c.add(p+".serviceRange", "names the same range as podRange (pods and services need their own ranges)")
		}
	}
	if a := cl.AuthorizedNetworks; a != nil {
		ap := p + ".authorizedNetworks"
		if len(a.CIDRBlocks) > maxAuthorizedNetworks {
			c.add(ap+".cidrBlocks", "has %d blocks and GKE allows at most %d (merge ranges)", len(a.CIDRBlocks), maxAuthorizedNetworks)
		}
		for k, b := range a.CIDRBlocks {
			c.cidr(at(ap+".cidrBlocks", k), b)
		}
		if !a.Enabled && (len(a.CIDRBlocks) > 0 || a.PrivateEndpointEnforcement) {
			c.add(ap+".enabled", "is false, so cidrBlocks and privateEndpointEnforcement have no effect (set enabled: true, or remove them)")
		}
	}
	if d := cl.DNSEndpoint; d != nil && !d.Enabled && d.AllowExternalTraffic {
		c.add(p+".dnsEndpoint.allowExternalTraffic", "is true but the DNS endpoint is not enabled (set enabled: true, or remove allowExternalTraffic)")
	}
	c.resolverAddrs()
	switch c.endpointMode(cl) {
	case "":
		return
	case EndpointPSC:
		c.pscEndpoint(cl, g, vpc)
		c.roles(g, vpc, sub, vpc)
		return
	}
	master := c.masterVPC(cl, vpc)
	c.masterRange(cl, g, master)
	c.clusterPeering(cl, vpc, master)
	c.roles(g, vpc, sub, master)
}

// endpointMode checks cluster.endpoint and returns its mode (peering when left out).
func (c *checker) endpointMode(cl *Cluster) string {
	e := cl.Endpoint
	if e == nil || e.Mode == "" {
		if e != nil && (e.Subnet != "" || e.GlobalAccess) {
			c.add("spec.cluster.endpoint.mode", "is required with subnet or globalAccess (write mode: %s; mode %s has neither)", EndpointPSC, EndpointPeering)
		}
		return EndpointPeering
	}
	if e.Mode != EndpointPeering && e.Mode != EndpointPSC {
		c.oneOf("spec.cluster.endpoint.mode", "endpoint mode", e.Mode, false, EndpointPeering, EndpointPSC)
		return "" // the rest depends on the mode
	}
	if e.Mode == EndpointPeering {
		if e.Subnet != "" {
			c.add("spec.cluster.endpoint.subnet", "is for mode %s: a peering cluster's endpoint is in masterCIDR (remove subnet, or set mode: %s)", EndpointPSC, EndpointPSC)
		}
		if e.GlobalAccess {
			c.add("spec.cluster.endpoint.globalAccess", "is modelled for mode %s only (remove it, or set mode: %s)", EndpointPSC, EndpointPSC)
		}
	}
	return e.Mode
}

// pscEndpoint checks a Private Service Connect cluster: no master VPC, range or peering (GKE
// makes none), and a private endpoint that is a usable address of the endpoint subnet.
func (c *checker) pscEndpoint(cl *Cluster, g *GKECluster, vpc *Network) {
	const p = "spec.cluster"
	for _, f := range []struct{ field, value string }{{"masterVPC", cl.MasterVPC}, {"masterCIDR", cl.MasterCIDR}, {"peering", cl.Peering}} {
		if f.value != "" {
			c.add(p+"."+f.field, "is for endpoint mode %s; a Private Service Connect cluster has no master VPC, master range or GKE peering (remove %s)", EndpointPeering, f.field)
		}
	}
	var sub *Subnetwork
	if vpc != nil {
		path := p + ".subnet"
		if cl.Endpoint.Subnet != "" {
			path = p + ".endpoint.subnet"
		}
		sub = c.subnetOf(path, vpc, g.EndpointSubnet)
	}
	example := "10.128.0.2"
	if sub != nil && sub.CIDR.IsValid() {
		example = sub.CIDR.Addr().Next().Next().String()
	}
	if msg := addrProblem(cl.PrivateEndpoint, example); msg != "" {
		c.add(p+".privateEndpoint", "%s", msg)
		return
	}
	if sub == nil || !sub.CIDR.IsValid() {
		return
	}
	if r := RegionOf(cl.Location); sub.Region != "" && r != "" && sub.Region != r {
		c.add(p+".endpoint.subnet", "subnet %q is in %s and cluster %s in %s; GKE takes the Private Service Connect endpoint's address from a subnet of the cluster's region (name one in %s)",
			sub.Name, sub.Region, cl.Name, r, r)
	}
	ep := g.PrivateEndpoint
	if !sub.CIDR.Contains(ep) || ep == sub.CIDR.Addr() || ep == sub.CIDR.Addr().Next() || ep == lastAddr(sub.CIDR) {
		c.add(p+".privateEndpoint", "%s is not a usable address of subnet %q %s, where the Private Service Connect endpoint's address comes from (pick one from %s)",
			ep, sub.Name, sub.CIDR, usable(sub.CIDR))
	}
}

// maxAuthorizedNetworks is GKE's limit on master authorized networks for a private cluster.
const maxAuthorizedNetworks = 50

// secondaryRef checks that name is a secondary range of s.
func (c *checker) secondaryRef(path string, s *Subnetwork, name, example string) {
	list := names(s.Secondary, func(r NamedRange) string { return r.Name })
	if name == "" {
		c.add(path, "is required (name a secondary range of subnet %q: %s)", s.Name, list)
		return
	}
	for _, r := range s.Secondary {
		if r.Name == name {
			return
		}
	}
	c.add(path, "%q is not a secondary range of subnet %q (its ranges: %s; add one like %s under secondaryRanges)", name, s.Name, list, example)
}

// masterVPC checks cluster.masterVPC and returns it (nil if unusable).
func (c *checker) masterVPC(cl *Cluster, vpc *Network) *Network {
	const path = "spec.cluster.masterVPC"
	master := c.network(path, cl.MasterVPC)
	switch {
	case master == nil:
	case master == vpc:
		c.add(path, "%q is the cluster's own VPC (name the Google-owned VPC of the control plane, the one with managedBy: gke)", cl.MasterVPC)
	case master.ManagedBy != ManagedByGKE:
		c.add(path, "VPC %q is not a master VPC (set managedBy: gke on it)", master.Name)
	default:
		return master
	}
	return nil
}

// masterRange checks masterCIDR (a /28 that is a subnet of the master VPC)
// and the private endpoint inside it.
func (c *checker) masterRange(cl *Cluster, g *GKECluster, master *Network) {
	const p = "spec.cluster"
	if !c.cidr(p+".masterCIDR", cl.MasterCIDR) {
		if msg := addrProblem(cl.PrivateEndpoint, "192.168.32.34"); msg != "" {
			c.add(p+".privateEndpoint", "%s", msg)
		}
		return
	}
	if g.MasterCIDR.Bits() != 28 {
		c.add(p+".masterCIDR", "%s is a /%d, and GKE's master range is a /28 (write it like 192.168.32.32/28)", g.MasterCIDR, g.MasterCIDR.Bits())
		return
	}
	if master != nil && allValid(master) && master.subnetWithCIDR(g.MasterCIDR) == nil {
		c.add(p+".masterCIDR", "VPC %q has no subnet %s (add a subnet with cidr: %s to it)", master.Name, g.MasterCIDR, g.MasterCIDR)
	}
	example := g.MasterCIDR.Addr().Next().Next().String()
	if msg := addrProblem(cl.PrivateEndpoint, example); msg != "" {
		c.add(p+".privateEndpoint", "%s", msg)
		return
	}
	if !g.MasterCIDR.Contains(g.PrivateEndpoint) {
		c.add(p+".privateEndpoint", "%s is outside masterCIDR %s (pick an address from %s)", g.PrivateEndpoint, g.MasterCIDR, usable(g.MasterCIDR))
	}
}

// clusterPeering checks that cluster.peering is the peering between the cluster's VPC and the master VPC.
func (c *checker) clusterPeering(cl *Cluster, vpc, master *Network) {
	const path = "spec.cluster.peering"
	if cl.Peering == "" {
		c.add(path, "is required (name the peering link between VPC %q and VPC %q)", cl.VPC, cl.MasterVPC)
		return
	}
	l := c.t.Link(cl.Peering)
	switch {
	case l == nil:
		c.add(path, "link %q is not defined (defined links: %s)", cl.Peering, names(c.t.Links, func(l *Connection) string { return l.Name }))
	case l.Type != LinkPeering:
		c.add(path, "link %q is %s, not a peering (name the peering between VPC %q and VPC %q)", l.Name, linkNoun(l.Type), cl.VPC, cl.MasterVPC)
	case vpc != nil && master != nil && !joins(l, vpc.Name, master.Name):
		c.add(path, "link %q joins %q and %q, not the cluster's VPC %q and master VPC %q (name the peering between them)", l.Name, l.A.VPC, l.B.VPC, vpc.Name, master.Name)
	}
}

func joins(l *Connection, x, y string) bool {
	return (l.A.VPC == x && l.B.VPC == y) || (l.A.VPC == y && l.B.VPC == x)
}

// roles checks the cluster's hosts: nodes in the cluster's VPC (at least one in its subnet),
// and exactly one control plane at the private endpoint, in master: the master VPC, or the
// cluster's VPC for a psc endpoint (in the endpoint subnet).
func (c *checker) roles(g *GKECluster, vpc *Network, sub *Subnetwork, master *Network) {
	where := "the master VPC"
	if g.PSC {
		where = "the cluster's VPC (endpoint mode psc)"
	}
	nodes, plane := 0, -1
	for i, h := range c.t.Hosts {
		p := at("spec.hosts", i)
		switch h.Role {
		case RoleNode:
			if vpc != nil && h.VPC != vpc.Name {
				c.add(p+".vpc", "%q is not the cluster's VPC %q, where hosts with role node must be (move the host there, or use role: vm)", h.VPC, vpc.Name)
			}
			if sub != nil && h.VPC == vpc.Name && h.Subnet == sub.Name {
				nodes++
			}
		case RoleControlPlane:
			switch {
			case master == nil:
			case h.VPC != master.Name:
				c.add(p+".vpc", "%q is not %s %q, where the control-plane host must be (move the host there, or use role: vm)", h.VPC, where, master.Name)
			case g.PSC && h.Subnet != g.EndpointSubnet:
				c.add(p+".subnet", "%q is not the endpoint subnet %q, where the control-plane host of a psc endpoint must be (set subnet: %s)", h.Subnet, g.EndpointSubnet, g.EndpointSubnet)
			case plane >= 0:
				c.add(p+".role", "host %q (line %d) is already the control plane, and a cluster has exactly one (use role: vm)", c.t.Hosts[plane].Name, c.loc.line(at("spec.hosts", plane)+".role"))
			default:
				plane = i
			}
		}
	}
	if sub != nil && nodes == 0 {
		c.add("spec.cluster.subnet", "no host has role node in subnet %q of VPC %q (add at least one host there with role: node)", sub.Name, vpc.Name)
	}
	if master == nil {
		return
	}
	if plane < 0 {
		ip := "an address in masterCIDR"
		if g.PSC {
			ip = "an address of subnet " + g.EndpointSubnet
		}
		if g.PrivateEndpoint.IsValid() {
			ip = "ip: " + g.PrivateEndpoint.String()
		}
		path := "spec.cluster.masterVPC"
		if g.PSC {
			path = "spec.cluster.endpoint"
		}
		c.add(path, "no host has role control-plane in VPC %q (add one there with role: control-plane and %s)", master.Name, ip)
		return
	}
	h := c.t.Hosts[plane]
	if g.PrivateEndpoint.IsValid() && h.IP.IsValid() && h.IP != g.PrivateEndpoint {
		c.add("spec.cluster.privateEndpoint", "%s is not the address of the control-plane host %q, which is %s at line %d (make them equal)",
			g.PrivateEndpoint, h.Name, h.IP, c.loc.line(at("spec.hosts", plane)+".ip"))
	}
}

// resolverAddrs checks that no host sits where the lab puts a third-party VPC's resolver.
func (c *checker) resolverAddrs() {
	for i, h := range c.t.Hosts {
		if a, ok := c.t.ResolverAddr(h.VPC); ok && h.IP == a {
			c.add(at("spec.hosts", i)+".ip", "is %s, where the lab puts vpc %s's DNS resolver for the cluster's DNS endpoint (its first range plus two, as AWS does); give host %s another address", a, h.VPC, h.Name)
		}
	}
}
