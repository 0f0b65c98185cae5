package gcpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
)

// The HA VPN resources: vpnGateways and vpnTunnels (regional), externalVpnGateways (global),
// insert and delete, each realized by the lab's cloud (WireGuard tunnels, BGP speakers); get
// and list of each, and vpnGateways.getStatus, in vpnread.go.

// isSetLabels reports whether r is POST …/<name>/setLabels.
func isSetLabels(r *http.Request, rest []string) bool {
	return len(rest) == 2 && rest[1] == "setLabels" && r.Method == http.MethodPost
}

// decode reads a JSON request body into m, or answers 400 and returns false.
func decode(w http.ResponseWriter, r *http.Request, m proto.Message) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "parseError", "Invalid JSON payload received. "+err.Error())
		return false
	}
	return true
}

// mutate answers an insert (len(rest) == 0, POST) or a delete (one name, DELETE) with an
// operation of scope that runs do, recording the inserted resource's description and time
// (records.go); anything else is 405.
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, scope, coll string, rest []string, insert func() (name, description string, do func() error, ok bool), del func(name string) error) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		name, description, do, ok := insert()
		if !ok {
			return
		}
		writeProto(w, http.StatusOK, s.startOperation(scope, "insert", s.link(scope, coll, name), s.recorded(scope+"/"+coll+"/"+name, description, do)))
	case len(rest) == 1 && r.Method == http.MethodDelete:
		name := rest[0]
		writeProto(w, http.StatusOK, s.startOperation(scope, "delete", s.link(scope, coll, name),
			s.forgotten(scope+"/"+coll+"/"+name, func() error { return del(name) })))
	default:
		writeError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method+" is not allowed on "+r.URL.Path)
	}
}

func (s *Server) vpnGateways(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	if isSetLabels(r, rest) {
		g, ok := s.cloud.L.Cloud.VPNGateways[rest[0]]
		if !ok || g.Region != region {
			s.notFoundResource(w, "regions/"+region+"/vpnGateways/"+rest[0])
			return
		}
		s.setLabels(w, r, "regions/"+region, region, "vpnGateways", rest[0], g.Labels)
		return
	}
	if r.Method == http.MethodGet {
		s.readVpnGateways(w, r, region, rest)
		return
	}
	s.mutate(w, r, "regions/"+region, "vpnGateways", rest, func() (string, string, func() error, bool) {
		var in computepb.VpnGateway
		if !decode(w, r, &in) {
			return "", "", nil, false
		}
		if !checkLabels(w, in.GetLabels()) {
			return "", "", nil, false
		}
		g := cloud.VpnGateway{Name: in.GetName(), Network: lastSegment(in.GetNetwork()), Region: region, Labels: in.GetLabels()}
		return g.Name, in.GetDescription(), func() error { return s.cloud.InsertVpnGateway(context.Background(), g) }, true
	}, func(name string) error { return s.cloud.DeleteVpnGateway(context.Background(), name) })
}

func (s *Server) externalVpnGateways(w http.ResponseWriter, r *http.Request, rest []string) {
	if isSetLabels(r, rest) {
		g, ok := s.cloud.L.Cloud.ExternalGateways[rest[0]]
		if !ok {
			s.notFoundResource(w, "global/externalVpnGateways/"+rest[0])
			return
		}
		s.setLabels(w, r, "global", "", "externalVpnGateways", rest[0], g.Labels)
		return
	}
	if r.Method == http.MethodGet {
		s.readExternalVpnGateways(w, r, rest)
		return
	}
	s.mutate(w, r, "global", "externalVpnGateways", rest, func() (string, string, func() error, bool) {
		var in computepb.ExternalVpnGateway
		if !decode(w, r, &in) {
			return "", "", nil, false
		}
		if !checkLabels(w, in.GetLabels()) {
			return "", "", nil, false
		}
		g := cloud.ExternalVpnGateway{Name: in.GetName(), RedundancyType: in.GetRedundancyType(), Labels: in.GetLabels()}
		return g.Name, in.GetDescription(), func() error { return s.cloud.InsertExternalVpnGateway(context.Background(), g) }, true
	}, func(name string) error { return s.cloud.DeleteExternalVpnGateway(context.Background(), name) })
}

func (s *Server) vpnTunnels(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	if isSetLabels(r, rest) {
		t, ok := s.cloud.L.Cloud.Tunnels[rest[0]]
		if !ok || t.Region != region {
			s.notFoundResource(w, "regions/"+region+"/vpnTunnels/"+rest[0])
			return
		}
		s.setLabels(w, r, "regions/"+region, region, "vpnTunnels", rest[0], t.Labels)
		return
	}
	if r.Method == http.MethodGet {
		s.readVpnTunnels(w, r, region, rest)
		return
	}
	s.mutate(w, r, "regions/"+region, "vpnTunnels", rest, func() (string, string, func() error, bool) {
		var in computepb.VpnTunnel
		if !decode(w, r, &in) {
			return "", "", nil, false
		}
		if in.GetSharedSecret() == "" {
			writeError(w, http.StatusBadRequest, "required", fmt.Sprintf("Invalid value for field 'resource.sharedSecret': ''. The shared secret of tunnel %q is required.", in.GetName()))
			return "", "", nil, false
		}
		if !checkLabels(w, in.GetLabels()) {
			return "", "", nil, false
		}
		t := cloud.VpnTunnel{Name: in.GetName(), Region: region, Labels: in.GetLabels(), VpnGateway: lastSegment(in.GetVpnGateway()),
			VpnGatewayInterface: int(in.GetVpnGatewayInterface()), PeerExternalGateway: lastSegment(in.GetPeerExternalGateway()),
			PeerExternalGatewayInterface: int(in.GetPeerExternalGatewayInterface()), Router: lastSegment(in.GetRouter())}
		if g := in.GetPeerGcpGateway(); g != "" {
			t.PeerGcpGateway, t.PeerRegion = lastSegment(g), segmentAfter(g, "regions")
		}
		return t.Name, in.GetDescription(), func() error { return s.cloud.InsertVpnTunnel(context.Background(), t) }, true
	}, func(name string) error { return s.cloud.DeleteVpnTunnel(context.Background(), name) })
}

// segmentAfter is the path segment after key in a resource URL ("" without one).
func segmentAfter(url, key string) string {
	parts := strings.Split(url, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == key {
			return parts[i+1]
		}
	}
	return ""
}
