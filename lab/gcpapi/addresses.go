package gcpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
)

// addresses serves compute's regional addresses (addresses.insert/get/list/delete), INTERNAL
// only: the lab reserves addresses in its own subnets.
func (s *Server) addresses(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.listAddresses(w, r, region)
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.insertAddress(w, r, region)
	case len(rest) == 1 && r.Method == http.MethodGet:
		a, ok := s.findAddress(r.Context(), region, rest[0])
		if !ok {
			writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s/regions/%s/addresses/%s' was not found", s.project, region, rest[0]))
			return
		}
		writeProto(w, http.StatusOK, s.addressResource(a))
	case isSetLabels(r, rest):
		a, ok := s.findAddress(r.Context(), region, rest[0])
		if !ok {
			s.notFoundResource(w, "regions/"+region+"/addresses/"+rest[0])
			return
		}
		s.setLabels(w, r, "regions/"+region, region, "addresses", a.Name, a.Labels)
	case len(rest) == 1 && r.Method == http.MethodDelete:
		if _, ok := s.findAddress(r.Context(), region, rest[0]); !ok {
			writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s/regions/%s/addresses/%s' was not found", s.project, region, rest[0]))
			return
		}
		name := rest[0]
		op := s.startOperation("regions/"+region, "delete", s.link("regions", region, "addresses", name), s.forgotten("regions/"+region+"/addresses/"+name, func() error {
			return s.cloud.ReleaseAddress(context.Background(), region, name)
		}))
		writeProto(w, http.StatusOK, op)
	default:
		writeError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method+" is not allowed on "+r.URL.Path)
	}
}

// insertAddress checks the request as addresses.insert does, refuses a name that exists with
// 409 at once, and reserves the address in an operation (a conflict on the address itself
// fails the operation).
func (s *Server) insertAddress(w http.ResponseWriter, r *http.Request, region string) {
	var in computepb.Address
	if !decode(w, r, &in) {
		return
	}
	if in.GetName() == "" {
		writeError(w, http.StatusBadRequest, "required", "Invalid value for field 'resource.name': ''. Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'")
		return
	}
	if t := in.GetAddressType(); t != "INTERNAL" {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.addressType': '%s'. The lab reserves INTERNAL addresses only.", t))
		return
	}
	addr, err := netip.ParseAddr(in.GetAddress())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.address': '%s'. The lab needs the address to reserve.", in.GetAddress()))
		return
	}
	if _, ok := s.findAddress(r.Context(), region, in.GetName()); ok {
		writeError(w, http.StatusConflict, "alreadyExists", fmt.Sprintf("The resource 'projects/%s/regions/%s/addresses/%s' already exists", s.project, region, in.GetName()))
		return
	}
	if !checkLabels(w, in.GetLabels()) {
		return
	}
	spec := cloud.AddressSpec{Name: in.GetName(), Region: region, Subnetwork: lastSegment(in.GetSubnetwork()), Address: addr, Purpose: in.GetPurpose(),
		Labels: in.GetLabels()}
	op := s.startOperation("regions/"+region, "insert", s.link("regions", region, "addresses", spec.Name), s.recorded("regions/"+region+"/addresses/"+spec.Name, in.GetDescription(), func() error {
		_, err := s.cloud.ReserveInternalAddress(context.Background(), spec)
		return err
	}))
	writeProto(w, http.StatusOK, op)
}

func (s *Server) listAddresses(w http.ResponseWriter, r *http.Request, region string) {
	as, err := s.cloud.Addresses(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	list := &computepb.AddressList{Kind: proto.String("compute#addressList"), Id: proto.String("projects/" + s.project + "/regions/" + region + "/addresses"),
		SelfLink: proto.String(s.link("regions", region, "addresses"))}
	for _, a := range as {
		if strings.EqualFold(a.Region, region) {
			list.Items = append(list.Items, s.addressResource(a))
		}
	}
	writeProto(w, http.StatusOK, list)
}

func (s *Server) findAddress(ctx context.Context, region, name string) (cloud.Address, bool) {
	as, err := s.cloud.Addresses(ctx)
	if err != nil {
		return cloud.Address{}, false
	}
	for _, a := range as {
		if a.Name == name && strings.EqualFold(a.Region, region) {
			return a, true
		}
	}
	return cloud.Address{}, false
}

// addressResource is the Address resource of a reservation.
func (s *Server) addressResource(a cloud.Address) *computepb.Address {
	out := &computepb.Address{
		Kind: proto.String("compute#address"), Name: proto.String(a.Name), Address: proto.String(a.Address.String()),
		AddressType: proto.String("INTERNAL"), Status: proto.String(a.Status),
		Region:   proto.String(s.link("regions", a.Region)),
		SelfLink: proto.String(s.link("regions", a.Region, "addresses", a.Name)),
		Id:       proto.Uint64(stableID(a.Region + "/" + a.Name)),
		Labels:   a.Labels, LabelFingerprint: labelFingerprint(a.Labels),
	}
	out.CreationTimestamp, out.Description = s.stamp("regions/" + a.Region + "/addresses/" + a.Name)
	if a.Subnetwork != "" {
		out.Subnetwork = proto.String(s.link("regions", a.Region, "subnetworks", a.Subnetwork))
	}
	if a.Purpose != "" {
		out.Purpose = proto.String(a.Purpose)
	}
	return out
}

// stableID is a resource id that stays the same across reads and restarts (FNV-1a).
func stableID(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h >> 1
}
