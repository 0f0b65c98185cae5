package gcpimport

import (
	"bytes"
	"fmt"
	"os"

	"cloud.google.com/go/compute/apiv1/computepb"
	"go.yaml.in/yaml/v3"

	"reachgate/framework/topology"
)

// ExternalKind is the kind of the file that describes the third-party side.
const ExternalKind = "ThirdParty"

// External is the third-party side of a topology, which no GCP API shows: its VPCs (cloud
// aws, azure or other), their routers and hosts, and the interconnect and vpn links that join
// them to the project's VPCs, each naming the project's network and Cloud Router it lands on.
type External struct {
	// Source is the file it was read from, for errors.
	Source string
	File   topology.File
	// lines of spec.vpcs[i] and spec.links[i], for errors (0 when built in memory).
	vpcLines, linkLines []int
}

// ReadExternal reads and checks a third-party file:
//
//	apiVersion: reachgate.dev/v1alpha1
//	kind: ThirdParty
//	metadata: {name: aws-side}
//	spec:
//	  vpcs:  [ {name: third-party, cloud: aws, subnets: [...], routers: [...]} ]
//	  hosts: [ {name: tp-vm, vpc: third-party, subnet: tp-subnet, ip: 172.31.23.209, role: third-party-client} ]
//	  links: [ {name: tp-ha-vpn, type: vpn, a: {vpc: third-party, router: tp-router, gateway: aws-vpn-gw}, b: {vpc: gke, router: gke-router}} ]
func ReadExternal(path string) (*External, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read third-party file: %w", err)
	}
	return ParseExternal(path, data)
}

// ParseExternal decodes a third-party file strictly and checks it on its own: the GCP side of
// its links is checked against the project by Import.
func ParseExternal(name string, data []byte) (*External, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %v (fix the YAML)", name, err)
	}
	e := &External{Source: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&e.File); err != nil {
		return nil, fmt.Errorf("%s: %v (the file holds apiVersion, kind: %s, metadata and spec with vpcs, hosts and links)", name, err, ExternalKind)
	}
	e.vpcLines, e.linkLines = seqLines(&root, "vpcs"), seqLines(&root, "links")
	f := &e.File
	if f.APIVersion != topology.APIVersion || f.Kind != ExternalKind {
		return nil, fmt.Errorf("%s:1: apiVersion %q, kind %q: want apiVersion %s and kind %s", name, f.APIVersion, f.Kind, topology.APIVersion, ExternalKind)
	}
	ext := map[string]bool{}
	for i, v := range f.Spec.VPCs {
		if v.Cloud == "" || v.Cloud == topology.CloudGCP {
			return nil, e.errorf(e.vpcLines, i, "spec.vpcs[%d].cloud: VPC %s must be of the third-party cloud (cloud: aws, azure or other); GCP VPCs come from the project", i, v.Name)
		}
		ext[v.Name] = true
	}
	for i, h := range f.Spec.Hosts {
		if !ext[h.VPC] {
			return nil, fmt.Errorf("%s: spec.hosts[%d]: host %s is in VPC %q, which this file does not declare (hosts of the project are read from it)", name, i, h.Name, h.VPC)
		}
	}
	for i, l := range f.Spec.Links {
		if l.Type != topology.LinkInterconnect && l.Type != topology.LinkVPN {
			return nil, e.errorf(e.linkLines, i, "spec.links[%d].type: %q; a third-party link is an interconnect or a vpn", i, l.Type)
		}
		if ext[l.A.VPC] == ext[l.B.VPC] {
			return nil, e.errorf(e.linkLines, i, "spec.links[%d]: link %s must join one VPC of this file to one network of the project", i, l.Name)
		}
		if g := gcpSide(l, ext); g.Router == "" {
			return nil, e.errorf(e.linkLines, i, "spec.links[%d]: link %s: name the Cloud Router of network %s it lands on (router: NAME)", i, l.Name, g.VPC)
		}
	}
	return e, nil
}

// seqLines returns the line of each item of spec.<key>.
func seqLines(root *yaml.Node, key string) []int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range []string{"spec", key} {
		n = mapValue(n, k)
		if n == nil {
			return nil
		}
	}
	var out []int
	for _, item := range n.Content {
		out = append(out, item.Line)
	}
	return out
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (e *External) errorf(lines []int, i int, format string, a ...any) error {
	at := e.Source
	if i < len(lines) {
		at = fmt.Sprintf("%s:%d", e.Source, lines[i])
	}
	return fmt.Errorf("%s: %s", at, fmt.Sprintf(format, a...))
}

// gcpSide is the end of l in the project (the one not in ext).
func gcpSide(l topology.Link, ext map[string]bool) topology.LinkEnd {
	if ext[l.A.VPC] {
		return l.B
	}
	return l.A
}

// ExternalOf is the third-party side of a topology: its VPCs of another cloud, their hosts,
// and the interconnect and vpn links that touch them (a lab derives it from its own file).
func ExternalOf(t *topology.Topology) *External {
	e := &External{Source: t.Source, File: topology.File{APIVersion: topology.APIVersion, Kind: ExternalKind,
		Metadata: topology.Metadata{Name: t.Name + "-third-party"}}}
	ext := map[string]bool{}
	for _, n := range t.Networks {
		if n.GCP() {
			continue
		}
		ext[n.Name] = true
		v := topology.VPC{Name: n.Name, Cloud: n.Cloud}
		for _, s := range n.Subnets {
			sub := topology.Subnet{Name: s.Name, Region: s.Region, CIDR: s.CIDR.String()}
			for _, r := range s.Secondary {
				sub.SecondaryRanges = append(sub.SecondaryRanges, topology.SecondaryRange{Name: r.Name, CIDR: r.CIDR.String()})
			}
			v.Subnets = append(v.Subnets, sub)
		}
		for _, r := range n.Routers {
			v.Routers = append(v.Routers, topology.Router{Name: r.Name, Region: r.Region, ASN: r.ASN, Advertise: advertising(r.Advertise)})
		}
		e.File.Spec.VPCs = append(e.File.Spec.VPCs, v)
	}
	for _, h := range t.Hosts {
		if ext[h.VPC] {
			e.File.Spec.Hosts = append(e.File.Spec.Hosts, topology.Host{Name: h.Name, VPC: h.VPC, Subnet: h.Subnet, IP: h.IP.String(), Role: h.Role, Tags: h.Tags})
		}
	}
	for _, l := range t.Links {
		if (l.Type == topology.LinkInterconnect || l.Type == topology.LinkVPN) && ext[l.A.VPC] != ext[l.B.VPC] {
			e.File.Spec.Links = append(e.File.Spec.Links, topology.Link{Name: l.Name, Type: l.Type, Impairment: l.Impairment,
				A: topology.LinkEnd{VPC: l.A.VPC, Router: l.A.Router, Gateway: l.A.Gateway},
				B: topology.LinkEnd{VPC: l.B.VPC, Router: l.B.Router, Gateway: l.B.Gateway}})
		}
	}
	return e
}

// RenameProject renames the project's end of every link (its network, Cloud Router and VPN
// gateway) and the external VPN gateway of a VPN link with name: the topology's names as a
// provider named them in the project.
func (e *External) RenameProject(name func(string) string) {
	ext := map[string]bool{}
	for _, v := range e.File.Spec.VPCs {
		ext[v.Name] = true
	}
	for i := range e.File.Spec.Links {
		l := &e.File.Spec.Links[i]
		end, other := &l.A, &l.B
		if ext[l.A.VPC] {
			end, other = &l.B, &l.A
		}
		if other.Gateway != "" {
			// The external VPN gateway that stands for the third-party end is the project's.
			other.Gateway = name(other.Gateway)
		}
		end.VPC = name(end.VPC)
		if end.Router != "" {
			end.Router = name(end.Router)
		}
		if end.Gateway != "" {
			end.Gateway = name(end.Gateway)
		}
	}
}

// advertising is a resolved advertisement as the file writes it (nil for DEFAULT).
func advertising(a topology.Advertisement) *topology.Advertising {
	if a.Mode != topology.AdvertiseCustom {
		return nil
	}
	out := &topology.Advertising{Mode: a.Mode, Groups: a.Groups}
	for _, r := range a.Ranges {
		out.Ranges = append(out.Ranges, r.String())
	}
	return out
}

// joinLinks adds the file's links whose GCP side exists in the project: an interconnect when
// an attachment lands on the named Cloud Router, a vpn when the router has a BGP peer over one
// of the HA VPN tunnels to the named peer gateway. A link the project does not carry is left
// out with a note; a link naming a router the project lacks is an error.
func (e *External) joinLinks(spec *topology.Spec, p *project, routers map[string]*computepb.Router, note func(string, ...any)) error {
	ext := map[string]bool{}
	for _, v := range e.File.Spec.VPCs {
		ext[v.Name] = true
	}
	for i, l := range e.File.Spec.Links {
		g := gcpSide(l, ext)
		rt, ok := routers[g.VPC+"/"+g.Router]
		if !ok {
			return e.errorf(e.linkLines, i, "spec.links[%d]: link %s lands on router %s of network %s, which the project does not have (routers.aggregatedList)", i, l.Name, g.Router, g.VPC)
		}
		peerGateway := l.A.Gateway
		if !ext[l.A.VPC] {
			peerGateway = l.B.Gateway
		}
		present := false
		switch l.Type {
		case topology.LinkInterconnect:
			for _, a := range p.attachments {
				if last(a.GetRouter()) == rt.GetName() && last(a.GetRegion()) == last(rt.GetRegion()) {
					present = true
				}
			}
			if !present {
				note("link %s: no interconnect attachment lands on router %s: left out", l.Name, rt.GetName())
			}
		case topology.LinkVPN:
			n := vpnSessions(rt, p.tunnels, peerGateway)
			present = n > 0
			if !present {
				note("link %s: router %s has no BGP peer over an HA VPN tunnel to %s: left out", l.Name, rt.GetName(), orAny(peerGateway))
			}
		}
		if !present {
			continue
		}
		out := topology.Link{Name: l.Name, Type: l.Type, Impairment: l.Impairment,
			A: topology.LinkEnd{VPC: l.A.VPC, Router: l.A.Router}, B: topology.LinkEnd{VPC: l.B.VPC, Router: l.B.Router}}
		spec.Links = append(spec.Links, out)
	}
	return nil
}

func orAny(gateway string) string {
	if gateway == "" {
		return "any peer gateway"
	}
	return "peer gateway " + gateway
}

// vpnSessions counts rt's tunnels to the peer gateway (any, when peerGateway is empty) that
// carry an enabled BGP session of rt.
func vpnSessions(rt *computepb.Router, tunnels []*computepb.VpnTunnel, peerGateway string) int {
	n := 0
	for _, t := range tunnels {
		if last(t.GetRouter()) == rt.GetName() && last(t.GetRegion()) == last(rt.GetRegion()) && t.GetPeerGcpGateway() == "" &&
			(peerGateway == "" || last(t.GetPeerExternalGateway()) == peerGateway) && hasSession(rt, t.GetName()) {
			n++
		}
	}
	return n
}
