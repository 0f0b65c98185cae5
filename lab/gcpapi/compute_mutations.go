package gcpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"cloud.google.com/go/compute/apiv1/computepb"

	"reachgate/framework/topology"
	"reachgate/lab"
	"reachgate/lab/metadata"
)

// networks.insert and delete, subnetworks.insert and delete, instances.insert and delete:
// the project a bare lab starts empty, built through the API and realized by the lab (a VPC
// is a router namespace, a VM a host namespace on its subnet that boots its startup script
// with a metadata server at 169.254.169.254).

// insertNetwork serves networks.insert: custom subnet mode only (autoCreateSubnetworks false,
// as reachgate creates VPCs).
func (s *Server) insertNetwork(w http.ResponseWriter, r *http.Request) {
	var in computepb.Network
	if !decode(w, r, &in) {
		return
	}
	if in.GetName() == "" {
		writeError(w, http.StatusBadRequest, "required", "Required field 'resource.name' not specified")
		return
	}
	if in.GetAutoCreateSubnetworks() {
		writeError(w, http.StatusBadRequest, "invalid", "The lab creates custom-mode networks only: set autoCreateSubnetworks to false.")
		return
	}
	name := in.GetName()
	writeProto(w, http.StatusOK, s.startOperation("global", "insert", s.link("global", "networks", name), s.recorded("global/networks/"+name, in.GetDescription(), func() error {
		return s.cloud.InsertNetwork(context.Background(), name, in.GetRoutingConfig().GetRoutingMode())
	})))
}

func (s *Server) deleteNetwork(w http.ResponseWriter, name string) {
	writeProto(w, http.StatusOK, s.startOperation("global", "delete", s.link("global", "networks", name), s.forgotten("global/networks/"+name, func() error {
		return s.cloud.DeleteNetwork(context.Background(), name)
	})))
}

// insertSubnetwork serves subnetworks.insert.
func (s *Server) insertSubnetwork(w http.ResponseWriter, r *http.Request, region string) {
	var in computepb.Subnetwork
	if !decode(w, r, &in) {
		return
	}
	cidr, err := netip.ParsePrefix(in.GetIpCidrRange())
	if err != nil || in.GetName() == "" {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.ipCidrRange': '%s'. Invalid IPCidrRange: %s (and a name is required).", in.GetIpCidrRange(), in.GetIpCidrRange()))
		return
	}
	sub := lab.APISubnet{Name: in.GetName(), Region: region, CIDR: cidr}
	for _, sr := range in.GetSecondaryIpRanges() {
		p, err := netip.ParsePrefix(sr.GetIpCidrRange())
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.secondaryIpRanges[].ipCidrRange': '%s'.", sr.GetIpCidrRange()))
			return
		}
		sub.Secondary = append(sub.Secondary, topology.NamedRange{Name: sr.GetRangeName(), CIDR: p})
	}
	network := lastSegment(in.GetNetwork())
	writeProto(w, http.StatusOK, s.startOperation("regions/"+region, "insert", s.link("regions", region, "subnetworks", sub.Name),
		s.recorded("regions/"+region+"/subnetworks/"+sub.Name, in.GetDescription(), func() error {
			return s.cloud.InsertSubnetwork(context.Background(), network, sub)
		})))
}

func (s *Server) deleteSubnetwork(w http.ResponseWriter, region, name string) {
	writeProto(w, http.StatusOK, s.startOperation("regions/"+region, "delete", s.link("regions", region, "subnetworks", name),
		s.forgotten("regions/"+region+"/subnetworks/"+name, func() error {
			return s.cloud.DeleteSubnetwork(context.Background(), region, name)
		})))
}

// insertInstance serves instances.insert: one network interface in a subnet of the zone's
// region (networkIP, or the first free address), tags, labels and metadata; the VM boots
// (its startup-script runs) once its namespace is up.
func (s *Server) insertInstance(w http.ResponseWriter, r *http.Request, zone string) {
	var in computepb.Instance
	if !decode(w, r, &in) {
		return
	}
	if in.GetName() == "" || len(in.GetNetworkInterfaces()) != 1 {
		writeError(w, http.StatusBadRequest, "invalid", "The lab's instances have a name and exactly one network interface.")
		return
	}
	if !checkLabels(w, in.GetLabels()) {
		return
	}
	nic := in.GetNetworkInterfaces()[0]
	inst := lab.APIInstance{Name: in.GetName(), Zone: zone, Network: lastSegment(nic.GetNetwork()), Subnet: lastSegment(nic.GetSubnetwork()),
		Tags: in.GetTags().GetItems(), Labels: in.GetLabels()}
	if ip := nic.GetNetworkIP(); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.networkInterfaces[0].networkIP': '%s'.", ip))
			return
		}
		inst.IP = a
	}
	if inst.Network == "" {
		inst.Network = "default"
	}
	var items []metadata.Item
	for _, it := range in.GetMetadata().GetItems() {
		items = append(items, metadata.Item{Key: it.GetKey(), Value: it.GetValue()})
	}
	if err := metadata.Validate(items); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	writeProto(w, http.StatusOK, s.startOperation("zones/"+zone, "insert", s.link("zones", zone, "instances", inst.Name),
		s.recorded("zones/"+zone+"/instances/"+inst.Name, in.GetDescription(), func() error {
			store, err := s.metaStore()
			if err != nil {
				return err
			}
			// The metadata is there before the VM boots, as GCE's is.
			_ = store.Forget(inst.Name)
			_, fp := store.Metadata(inst.Name)
			if err := store.SetMetadata(inst.Name, fp, items); err != nil {
				return err
			}
			if _, err := s.cloud.InsertInstance(context.Background(), inst); err != nil {
				_ = store.Forget(inst.Name)
				return err
			}
			h := s.cloud.L.Current.Host(inst.Name)
			if h == nil {
				return fmt.Errorf("instance %s: not in the lab after its insert", inst.Name)
			}
			return s.boot(context.Background(), h)
		})))
}

// deleteInstance serves instances.delete: the VM's processes end, its namespace goes, and
// its metadata server and guest attributes with it.
func (s *Server) deleteInstance(w http.ResponseWriter, zone, name string) {
	writeProto(w, http.StatusOK, s.startOperation("zones/"+zone, "delete", s.link("zones", zone, "instances", name),
		s.forgotten("zones/"+zone+"/instances/"+name, func() error {
			s.stopMetadata(name)
			if err := s.cloud.DeleteInstance(context.Background(), name); err != nil {
				return err
			}
			store, err := s.metaStore()
			if err != nil {
				return err
			}
			return store.Forget(name)
		})))
}
