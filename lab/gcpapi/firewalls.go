package gcpapi

import (
	"net/http"
	"slices"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
)

// firewalls serves firewalls.get and firewalls.list: the customer VPCs' ingress rules.
func (s *Server) firewalls(w http.ResponseWriter, r *http.Request, rest []string) {
	var all []*computepb.Firewall
	for _, n := range s.customerNetworks() {
		for _, f := range n.Firewall {
			all = append(all, s.firewallResource(n.Name, f))
		}
	}
	switch {
	case r.Method != http.MethodGet:
		methodNotAllowed(w, r)
	case len(rest) == 0:
		writeProto(w, http.StatusOK, &computepb.FirewallList{Kind: proto.String("compute#firewallList"), Id: proto.String("projects/" + s.project + "/global/firewalls"),
			SelfLink: proto.String(s.link("global", "firewalls")), Items: all})
	default:
		for _, f := range all {
			if len(rest) == 1 && f.GetName() == rest[0] {
				writeProto(w, http.StatusOK, f)
				return
			}
		}
		s.notFoundResource(w, "global/firewalls/"+rest[0])
	}
}

// firewallResource is the Firewall resource of an ingress rule: its ports grouped by protocol
// into allowed or denied entries ({IPProtocol, ports}; no ports: every port).
func (s *Server) firewallResource(network string, f *topology.Rule) *computepb.Firewall {
	out := &computepb.Firewall{Kind: proto.String("compute#firewall"), Name: proto.String(f.Name),
		Id: proto.Uint64(stableID("firewall/" + network + "/" + f.Name)), CreationTimestamp: proto.String(s.created()),
		Network: proto.String(s.link("global", "networks", network)), SelfLink: proto.String(s.link("global", "firewalls", f.Name)),
		Direction: proto.String("INGRESS"), Priority: proto.Int32(int32(f.Priority)), Disabled: proto.Bool(false),
		TargetTags: slices.Clone(f.TargetTags), LogConfig: &computepb.FirewallLogConfig{Enable: proto.Bool(false)}}
	for _, p := range f.Sources {
		out.SourceRanges = append(out.SourceRanges, p.String())
	}
	var protos []string
	ports := map[string][]string{}
	every := map[string]bool{}
	for _, pr := range f.Ports {
		if !slices.Contains(protos, pr.Proto) {
			protos = append(protos, pr.Proto)
		}
		switch {
		case pr.Lo == 0:
			every[pr.Proto] = true
		case pr.Lo == pr.Hi:
			ports[pr.Proto] = append(ports[pr.Proto], strconv.Itoa(int(pr.Lo)))
		default:
			ports[pr.Proto] = append(ports[pr.Proto], strconv.Itoa(int(pr.Lo))+"-"+strconv.Itoa(int(pr.Hi)))
		}
	}
	for _, p := range protos {
		var list []string
		if !every[p] {
			list = ports[p]
		}
		if f.Deny {
			out.Denied = append(out.Denied, &computepb.Denied{IPProtocol: proto.String(p), Ports: list})
		} else {
			out.Allowed = append(out.Allowed, &computepb.Allowed{IPProtocol: proto.String(p), Ports: list})
		}
	}
	return out
}
