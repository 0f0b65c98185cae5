package gcpapi

import (
	"net/http"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
	"reachgate/lab"
)

// machineType is the machine type every lab instance shows (GKE's default node type).
const machineType = "e2-medium"

// instances serves instances.get and instances.list of a zone: the lab's hosts in customer
// GCP VPCs (VMs and the cluster's nodes; the control plane lives in the Google-owned VPC).
func (s *Server) instances(w http.ResponseWriter, r *http.Request, zone string, rest []string) {
	if len(rest) == 2 {
		if h := s.cloud.L.Current.Host(rest[0]); h != nil {
			if z, ok := s.hostZone(h); ok && z == zone {
				s.instanceMethod(w, r, zone, h, rest[1])
				return
			}
		}
		s.notFoundResource(w, "zones/"+zone+"/instances/"+rest[0])
		return
	}
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.insertInstance(w, r, zone)
	case len(rest) == 1 && r.Method == http.MethodDelete:
		if h := s.cloud.L.Current.Host(rest[0]); h != nil {
			if z, ok := s.hostZone(h); ok && z == zone {
				s.deleteInstance(w, zone, h.Name)
				return
			}
		}
		s.notFoundResource(w, "zones/"+zone+"/instances/"+rest[0])
	case r.Method != http.MethodGet:
		methodNotAllowed(w, r)
	case len(rest) == 0:
		list := &computepb.InstanceList{Kind: proto.String("compute#instanceList"), Id: proto.String("projects/" + s.project + "/zones/" + zone + "/instances"),
			SelfLink: proto.String(s.link("zones", zone, "instances"))}
		for _, h := range s.cloud.L.Current.Hosts {
			if z, ok := s.hostZone(h); ok && z == zone {
				list.Items = append(list.Items, s.instanceResource(h, z))
			}
		}
		writeProto(w, http.StatusOK, list)
	default:
		if h := s.cloud.L.Current.Host(rest[0]); h != nil && len(rest) == 1 {
			if z, ok := s.hostZone(h); ok && z == zone {
				writeProto(w, http.StatusOK, s.instanceResource(h, z))
				return
			}
		}
		s.notFoundResource(w, "zones/"+zone+"/instances/"+rest[0])
	}
}

// aggregatedInstances serves instances.aggregatedList: the instances of every zone, by zone
// ("zones/<zone>").
func (s *Server) aggregatedInstances(w http.ResponseWriter, _ *http.Request) {
	out := &computepb.InstanceAggregatedList{Kind: proto.String("compute#instanceAggregatedList"), Id: proto.String("projects/" + s.project + "/aggregated/instances"),
		SelfLink: proto.String(s.link("aggregated", "instances")), Items: map[string]*computepb.InstancesScopedList{}}
	for _, h := range s.cloud.L.Current.Hosts {
		z, ok := s.hostZone(h)
		if !ok {
			continue
		}
		key := "zones/" + z
		if out.Items[key] == nil {
			out.Items[key] = &computepb.InstancesScopedList{}
		}
		out.Items[key].Instances = append(out.Items[key].Instances, s.instanceResource(h, z))
	}
	writeProto(w, http.StatusOK, out)
}

// hostLabels are the labels that say what a host is. A GKE node carries the labels GKE puts on
// its node VMs: goog-gke-node ("") and goog-k8s-cluster-name (the cluster's name). Any other
// host whose role is not the default "vm" carries reachgate-role: <role> ("in-vpc-client"):
// the label by which an operator tells reachgate which VM of a project plays which role. A
// plain VM has none.
func (s *Server) hostLabels(h *topology.Machine) map[string]string {
	if in := s.apiInstance(h.Name); in != nil {
		return in.Labels
	}
	switch h.Role {
	case topology.RoleVM:
		return nil
	case topology.RoleNode:
		labels := map[string]string{"goog-gke-node": ""}
		if cl := s.cloud.L.Current.Cluster; cl != nil {
			labels["goog-k8s-cluster-name"] = cl.Name
		}
		return labels
	}
	return map[string]string{"reachgate-role": h.Role}
}

// hostZone places a host of a customer GCP VPC in a zone: the cluster's zone for its nodes
// when the cluster is zonal and in the node's region, else zone "a" of the host's region. The
// topology places hosts in regions only; false for hosts outside the customer VPCs, and for a
// Private Service Connect control plane (its endpoint is a forwarding rule, not an instance).
func (s *Server) hostZone(h *topology.Machine) (string, bool) {
	if in := s.apiInstance(h.Name); in != nil {
		return in.Zone, true
	}
	n := s.cloud.L.Current.Network(h.VPC)
	if n == nil || !n.GCP() || n.ManagedBy != "" || h.Role == topology.RoleControlPlane {
		return "", false
	}
	if cl := s.cloud.L.Current.Cluster; cl != nil && h.Role == topology.RoleNode && strings.HasPrefix(cl.Location, h.Region+"-") {
		return cl.Location, true
	}
	return h.Region + "-a", true
}

// instanceResource is the Instance resource of a host: RUNNING, one network interface at the
// host's address (a node's pod range as its alias range, as GKE assigns it), its tags, the
// labels of its role (hostLabels).
func (s *Server) instanceResource(h *topology.Machine, zone string) *computepb.Instance {
	nic := &computepb.NetworkInterface{Kind: proto.String("compute#networkInterface"), Name: proto.String("nic0"),
		Network: proto.String(s.link("global", "networks", h.VPC)), Subnetwork: proto.String(s.link("regions", h.Region, "subnetworks", h.Subnet)),
		NetworkIP: proto.String(h.IP.String()), StackType: proto.String("IPV4_ONLY")}
	if cl := s.cloud.L.Current.Cluster; cl != nil && h.Role == topology.RoleNode {
		if i := slices.Index(cl.Nodes, h.Name); i >= 0 {
			if p, ok := cl.NodePodCIDR(i); ok {
				nic.AliasIpRanges = []*computepb.AliasIpRange{{IpCidrRange: proto.String(p.String()), SubnetworkRangeName: proto.String(s.podRangeName(cl))}}
			}
		}
	}
	nic.Fingerprint = proto.String(fingerprint(h.VPC, h.Subnet, h.IP, nic.GetAliasIpRanges()))
	tags := &computepb.Tags{Items: slices.Clone(h.Tags), Fingerprint: proto.String(fingerprint(strings.Join(h.Tags, ",")))}
	labels := s.hostLabels(h)
	created, description := s.stamp("zones/" + zone + "/instances/" + h.Name)
	return &computepb.Instance{Kind: proto.String("compute#instance"), Name: proto.String(h.Name), Description: description,
		Id: proto.Uint64(stableID(zone + "/instance/" + h.Name)), CreationTimestamp: created,
		Zone: proto.String(s.link("zones", zone)), SelfLink: proto.String(s.link("zones", zone, "instances", h.Name)),
		MachineType: proto.String(s.link("zones", zone, "machineTypes", machineType)), Status: proto.String("RUNNING"),
		NetworkInterfaces: []*computepb.NetworkInterface{nic}, Tags: tags, Labels: labels, CanIpForward: proto.Bool(false),
		Fingerprint:      proto.String(fingerprint(h.Name, zone, h.VPC, h.Subnet, h.IP, strings.Join(h.Tags, ","), h.Role)),
		LabelFingerprint: labelFingerprint(labels), Metadata: s.instanceMetadata(h.Name)}
}

// podRangeName is the name of the cluster's pod secondary range (the topology resolves it to
// its prefix).
func (s *Server) podRangeName(cl *topology.GKECluster) string {
	if n := s.cloud.L.Current.Network(cl.VPC); n != nil {
		for _, sn := range n.Subnets {
			if sn.Name != cl.Subnet {
				continue
			}
			for _, r := range sn.Secondary {
				if r.CIDR == cl.PodRange {
					return r.Name
				}
			}
		}
	}
	return ""
}

// apiInstance is the instance the API inserted by that name, or nil (a host of the topology).
func (s *Server) apiInstance(name string) *lab.APIInstance {
	if cs := s.cloud.L.Cloud; cs != nil {
		return cs.Instances[name]
	}
	return nil
}
