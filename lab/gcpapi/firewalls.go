package gcpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
)

// firewalls serves firewalls.get, list, insert, patch and delete: the customer VPCs' ingress
// rules, changes realized in the lab's filters.
func (s *Server) firewalls(w http.ResponseWriter, r *http.Request, rest []string) {
	var all []*computepb.Firewall
	for _, n := range s.customerNetworks() {
		for _, f := range n.Firewall {
			all = append(all, s.firewallResource(n.Name, f))
		}
	}
	switch {
	case r.Method == http.MethodPost && len(rest) == 0:
		s.insertFirewall(w, r)
		return
	case r.Method == http.MethodPatch && len(rest) == 1:
		s.patchFirewall(w, r, rest[0])
		return
	case r.Method == http.MethodDelete && len(rest) == 1:
		if _, _, ok := s.cloud.Firewall(rest[0]); !ok {
			s.notFoundResource(w, "global/firewalls/"+rest[0])
			return
		}
		name := rest[0]
		writeProto(w, http.StatusOK, s.startOperation("global", "delete", s.link("global", "firewalls", name), s.forgotten("global/firewalls/"+name, func() error {
			return s.cloud.DeleteFirewall(context.Background(), name)
		})))
		return
	}
	getOrList(s, w, r, "firewalls", rest, all, func(items []*computepb.Firewall) proto.Message {
		return &computepb.FirewallList{Kind: proto.String("compute#firewallList"), Id: proto.String("projects/" + s.project + "/global/firewalls"),
			SelfLink: proto.String(s.link("global", "firewalls")), Items: items}
	})
}

// firewallResource is the Firewall resource of an ingress rule: its ports grouped by protocol
// into allowed or denied entries ({IPProtocol, ports}; no ports: every port).
func (s *Server) firewallResource(network string, f *topology.Rule) *computepb.Firewall {
	out := &computepb.Firewall{Kind: proto.String("compute#firewall"), Name: proto.String(f.Name),
		Id:      proto.Uint64(stableID("firewall/" + network + "/" + f.Name)),
		Network: proto.String(s.link("global", "networks", network)), SelfLink: proto.String(s.link("global", "firewalls", f.Name)),
		Direction: proto.String("INGRESS"), Priority: proto.Int32(int32(f.Priority)), Disabled: proto.Bool(false),
		TargetTags: slices.Clone(f.TargetTags), LogConfig: &computepb.FirewallLogConfig{Enable: proto.Bool(false)}}
	out.CreationTimestamp, out.Description = s.stamp("global/firewalls/" + f.Name)
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

// insertFirewall serves firewalls.insert: an INGRESS rule of a customer VPC, realized in the
// lab's filters. GCP: priority defaults to 1000, a rule has allowed or denied entries (not
// both), and sourceRanges or sourceTags; the lab models source ranges.
func (s *Server) insertFirewall(w http.ResponseWriter, r *http.Request) {
	var in computepb.Firewall
	if !decode(w, r, &in) {
		return
	}
	rule, ok := s.firewallRule(w, &in, nil)
	if !ok {
		return
	}
	network := lastSegment(in.GetNetwork())
	if network == "" {
		network = "default"
	}
	writeProto(w, http.StatusOK, s.startOperation("global", "insert", s.link("global", "firewalls", rule.Name), s.recorded("global/firewalls/"+rule.Name, in.GetDescription(), func() error {
		return s.cloud.InsertFirewall(context.Background(), network, rule)
	})))
}

// patchFirewall serves firewalls.patch: the fields present in the body replace the rule's.
func (s *Server) patchFirewall(w http.ResponseWriter, r *http.Request, name string) {
	_, cur, ok := s.cloud.Firewall(name)
	if !ok {
		s.notFoundResource(w, "global/firewalls/"+name)
		return
	}
	var in computepb.Firewall
	if !decode(w, r, &in) {
		return
	}
	if in.Name == nil {
		in.Name = proto.String(name)
	}
	if in.GetName() != name {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.name': '%s'. The name of a firewall rule cannot change.", in.GetName()))
		return
	}
	rule, ok := s.firewallRule(w, &in, cur)
	if !ok {
		return
	}
	writeProto(w, http.StatusOK, s.startOperation("global", "patch", s.link("global", "firewalls", name), func() error {
		return s.cloud.PatchFirewall(context.Background(), rule)
	}))
}

// firewallRule reads a Firewall resource into the lab's rule; fields the body leaves out come
// from base (a patch) or GCP's defaults (an insert). It answers 400 and returns false for
// what the lab cannot model or GCP refuses.
func (s *Server) firewallRule(w http.ResponseWriter, in *computepb.Firewall, base *topology.Rule) (topology.Rule, bool) {
	bad := func(field, msg string) (topology.Rule, bool) {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field 'resource.%s': %s", field, msg))
		return topology.Rule{}, false
	}
	out := topology.Rule{Name: in.GetName(), Priority: topology.DefaultFirewallPriority}
	if base != nil {
		out = *base
		out.Sources, out.Ports, out.TargetTags = slices.Clone(base.Sources), slices.Clone(base.Ports), slices.Clone(base.TargetTags)
	}
	if out.Name == "" {
		return bad("name", "a firewall rule needs a name.")
	}
	if d := in.GetDirection(); d != "" && d != "INGRESS" {
		return bad("direction", fmt.Sprintf("'%s': the lab models INGRESS rules only (egress is allowed, as GCP's implied rule allows it).", d))
	}
	if in.GetDisabled() {
		return bad("disabled", "the lab does not model disabled rules: delete the rule instead.")
	}
	if len(in.GetSourceTags()) > 0 || len(in.GetSourceServiceAccounts()) > 0 {
		return bad("sourceTags", "the lab matches sources by range only: use sourceRanges.")
	}
	if in.Priority != nil {
		out.Priority = int(in.GetPriority())
	}
	if in.SourceRanges != nil {
		out.Sources = nil
		for _, src := range in.GetSourceRanges() {
			p, err := netip.ParsePrefix(src)
			if err != nil {
				if a, aerr := netip.ParseAddr(src); aerr == nil {
					p, err = netip.PrefixFrom(a, a.BitLen()), nil
				}
			}
			if err != nil {
				return bad("sourceRanges", fmt.Sprintf("'%s' is not an IP range.", src))
			}
			out.Sources = append(out.Sources, p.Masked())
		}
	}
	if in.TargetTags != nil {
		out.TargetTags = slices.Clone(in.GetTargetTags())
	}
	if len(in.GetAllowed()) > 0 && len(in.GetDenied()) > 0 {
		return bad("allowed", "a firewall rule has allowed or denied entries, not both.")
	}
	type entry struct {
		proto string
		ports []string
	}
	var entries []entry
	for _, a := range in.GetAllowed() {
		entries = append(entries, entry{a.GetIPProtocol(), a.GetPorts()})
	}
	for _, d := range in.GetDenied() {
		entries = append(entries, entry{d.GetIPProtocol(), d.GetPorts()})
	}
	if len(entries) > 0 {
		out.Deny, out.Ports = len(in.GetDenied()) > 0, nil
		for _, e := range entries {
			if len(e.ports) == 0 {
				pr, msg := topology.ParsePortRange(strings.ToLower(e.proto))
				if msg != "" {
					return bad("allowed.IPProtocol", msg)
				}
				out.Ports = append(out.Ports, pr)
			}
			for _, port := range e.ports {
				pr, msg := topology.ParsePortRange(strings.ToLower(e.proto) + ":" + port)
				if msg != "" {
					return bad("allowed.ports", msg)
				}
				out.Ports = append(out.Ports, pr)
			}
		}
	}
	return out, true
}
