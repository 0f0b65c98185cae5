package gate

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"reachgate/framework/topology"
)

// Resource types whose changes the model applies.
const (
	tfRouter        = "google_compute_router"
	tfRouterPeer    = "google_compute_router_peer"
	tfPeering       = "google_compute_network_peering"
	tfRoutesConfig  = "google_compute_network_peering_routes_config"
	tfFirewall      = "google_compute_firewall"
	tfCluster       = "google_container_cluster"
	tfRoute         = "google_compute_route"
	labelsOnlyNote  = "no effect on reachability (labels/description only)"
	knownAfterApply = "value known only after apply"
)

// cosmetic are the attributes that never change reachability.
var cosmetic = []string{"labels", "effective_labels", "terraform_labels", "resource_labels", "description"}

// kind is what a change does to its resource.
type kind int

const (
	create kind = iota
	update
	remove
	replace
)

func (k kind) String() string {
	return [...]string{"created", "updated", "deleted", "replaced"}[k]
}

// outcome is a change's effect on the model.
type outcome struct {
	modelled bool
	effect   string
}

func done(format string, a ...any) outcome { return outcome{true, fmt.Sprintf(format, a...)} }
func skip(format string, a ...any) outcome { return outcome{false, fmt.Sprintf(format, a...)} }

// routerKey names a Cloud Router of the model.
type routerKey struct{ vpc, name string }

// applier applies resource changes to one copy of the model.
type applier struct {
	s *scenario
	f *topology.File
	// peers are the BGP peer names of each router a peer change touched, starting from the
	// snapshot's; hadPeers says the router had some in the snapshot; peerChanges are the
	// indexes of those changes in the output, in order.
	peers       map[routerKey]map[string]bool
	hadPeers    map[routerKey]bool
	peerChanges map[routerKey][]int
	peerOrder   []routerKey
}

// run applies changes to a fresh copy of the model and returns it with each change's effect
// and the count of no-op and read actions.
func (s *scenario) run(changes []*tfjson.ResourceChange) (*topology.File, []PlannedChange, int) {
	a := &applier{s: s, f: s.model(), peers: map[routerKey]map[string]bool{}, hadPeers: map[routerKey]bool{}, peerChanges: map[routerKey][]int{}}
	var out []PlannedChange
	unchanged := 0
	for _, rc := range changes {
		acts := rc.Change.Actions
		if rc.Mode == tfjson.DataResourceMode || acts.NoOp() || acts.Read() {
			unchanged++
			continue
		}
		pc := PlannedChange{Address: rc.Address, Type: rc.Type}
		for _, act := range acts {
			pc.Actions = append(pc.Actions, string(act))
		}
		o, key := a.apply(rc)
		pc.Modelled, pc.Effect = o.modelled, o.effect
		if key != nil {
			if _, seen := a.peerChanges[*key]; !seen {
				a.peerOrder = append(a.peerOrder, *key)
			}
			a.peerChanges[*key] = append(a.peerChanges[*key], len(out))
		}
		out = append(out, pc)
	}
	a.finishPeers(out)
	return a.f, out, unchanged
}

// apply applies one change; key is the router whose peers it changed, if any.
func (a *applier) apply(rc *tfjson.ResourceChange) (outcome, *routerKey) {
	c := rc.Change
	acts := c.Actions
	var k kind
	switch {
	case acts.Create():
		k = create
	case acts.Update():
		k = update
	case acts.Delete():
		k = remove
	case acts.Replace():
		k = replace
	case acts.Forget():
		return done("no effect: Terraform forgets the resource and the cloud keeps it"), nil
	default:
		return skip("actions %v are not modelled", acts), nil
	}
	before, after := newAttrs(c.Before, nil), newAttrs(c.After, c.AfterUnknown)
	if k == update && cosmeticOnly(c) {
		return done(labelsOnlyNote), nil
	}
	switch rc.Type {
	case tfRouter:
		return a.router(k, before, after), nil
	case tfRouterPeer:
		return a.routerPeer(k, before, after)
	case tfPeering:
		return a.peering(k, before, after), nil
	case tfRoutesConfig:
		return a.routesConfig(k, before, after), nil
	case tfFirewall:
		return a.firewall(k, before, after), nil
	case tfCluster:
		return a.cluster(k, before, after), nil
	case tfRoute:
		return skip("static routes are not modelled (the topology has no static routes yet)"), nil
	}
	return skip("resource type %s is not modelled", rc.Type), nil
}

// cosmeticOnly reports whether an update changes only labels and descriptions.
func cosmeticOnly(c *tfjson.Change) bool {
	b, okb := c.Before.(map[string]any)
	af, oka := c.After.(map[string]any)
	if !okb || !oka || reflect.DeepEqual(b, af) {
		return false
	}
	if u, ok := c.AfterUnknown.(map[string]any); ok {
		for k, v := range u {
			if !slices.Contains(cosmetic, k) && anyTrue(v) {
				return false
			}
		}
	}
	strip := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if !slices.Contains(cosmetic, k) {
				out[k] = v
			}
		}
		return out
	}
	return reflect.DeepEqual(strip(b), strip(af))
}

// --- attribute access ---

// attrs is a resource's before or after value, with its after_unknown markers.
type attrs struct {
	v map[string]any
	u map[string]any
}

func newAttrs(v, u any) attrs {
	m, _ := v.(map[string]any)
	um, _ := u.(map[string]any)
	return attrs{m, um}
}

// unknown returns the first of keys whose value is known only after apply, or "".
func (a attrs) unknown(keys ...string) string {
	for _, k := range keys {
		if anyTrue(a.u[k]) {
			return k
		}
	}
	return ""
}

func anyTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		for _, e := range x {
			if anyTrue(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if anyTrue(e) {
				return true
			}
		}
	}
	return false
}

func (a attrs) str(k string) string {
	s, _ := a.v[k].(string)
	return s
}

func (a attrs) boolean(k string) (v, set bool) {
	v, set = a.v[k].(bool)
	return v, set
}

func (a attrs) num(k string) (float64, bool) {
	switch x := a.v[k].(type) {
	case float64:
		return x, true
	case string: // json.Number when the plan was decoded with UseJSONNumber
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func (a attrs) strs(k string) []string {
	l, _ := a.v[k].([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// blocks returns the nested blocks (a list of objects) of k.
func (a attrs) blocks(k string) []attrs {
	l, _ := a.v[k].([]any)
	ul, _ := a.u[k].([]any)
	var out []attrs
	for i, e := range l {
		var u any
		if i < len(ul) {
			u = ul[i]
		}
		out = append(out, newAttrs(e, u))
	}
	return out
}

// block returns the first nested block of k.
func (a attrs) block(k string) (attrs, bool) {
	if bs := a.blocks(k); len(bs) > 0 && bs[0].v != nil {
		return bs[0], true
	}
	return attrs{}, false
}

// last is the last path segment of a self link ("…/global/networks/gke" is "gke").
func last(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}

// changed lists, sorted, the top-level attributes that differ between before and after,
// leaving out ignore and the cosmetic ones.
func changed(before, after attrs, ignore ...string) []string {
	var out []string
	keys := map[string]bool{}
	for k := range before.v {
		keys[k] = true
	}
	for k := range after.v {
		keys[k] = true
	}
	for k := range keys {
		if slices.Contains(ignore, k) || slices.Contains(cosmetic, k) || k == "id" {
			continue
		}
		if !reflect.DeepEqual(before.v[k], after.v[k]) || anyTrue(after.u[k]) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// --- the model ---

func (a *applier) vpc(name string) *topology.VPC {
	for i := range a.f.Spec.VPCs {
		if a.f.Spec.VPCs[i].Name == name {
			return &a.f.Spec.VPCs[i]
		}
	}
	return nil
}

func customerGCP(v *topology.VPC) bool {
	return (v.Cloud == "" || v.Cloud == topology.CloudGCP) && v.ManagedBy == ""
}

// removeLinks removes the links match selects and describes them ("vpn tp-ha-vpn").
func (a *applier) removeLinks(match func(l topology.Link) bool) []string {
	var gone []string
	a.f.Spec.Links = slices.DeleteFunc(a.f.Spec.Links, func(l topology.Link) bool {
		if match(l) {
			gone = append(gone, l.Type+" link "+l.Name)
			return true
		}
		return false
	})
	return gone
}

// bgpLinksOf selects the interconnect and VPN links that the router terminates.
func bgpLinksOf(vpc, router string) func(l topology.Link) bool {
	return func(l topology.Link) bool {
		if l.Type != topology.LinkInterconnect && l.Type != topology.LinkVPN {
			return false
		}
		return (l.A.VPC == vpc && l.A.Router == router) || (l.B.VPC == vpc && l.B.Router == router)
	}
}

// peeringLink finds the peering named name with a side in network, or else the peering
// between network and peer (GCP allows one peering between two networks); -1 when none.
func (a *applier) peeringLink(name, network, peer string) int {
	for i, l := range a.f.Spec.Links {
		if l.Type == topology.LinkPeering && l.Name == name && (l.A.VPC == network || l.B.VPC == network) {
			return i
		}
	}
	if peer == "" {
		return -1
	}
	for i, l := range a.f.Spec.Links {
		if l.Type == topology.LinkPeering && ((l.A.VPC == network && l.B.VPC == peer) || (l.A.VPC == peer && l.B.VPC == network)) {
			return i
		}
	}
	return -1
}

func sideOf(l *topology.Link, vpc string) *topology.LinkEnd {
	if l.A.VPC == vpc {
		return &l.A
	}
	return &l.B
}

// --- google_compute_router ---

func (a *applier) router(k kind, before, after attrs) outcome {
	src := after
	if k == remove {
		src = before
	}
	if k != remove {
		if u := after.unknown("name", "network", "region", "bgp"); u != "" {
			return skip("%s: %s", u, knownAfterApply)
		}
	}
	name, network := src.str("name"), last(src.str("network"))
	what := fmt.Sprintf("router %s (network %s)", name, network)
	v := a.vpc(network)
	if v == nil {
		return skip("%s: network %s is not in the model", what, network)
	}
	i := slices.IndexFunc(v.Routers, func(r topology.Router) bool { return r.Name == name })
	gone := ""
	if k == remove || k == replace {
		if i < 0 && k == remove {
			return done("%s deleted: the model has no such router, nothing changes", what)
		}
		if i >= 0 {
			v.Routers = slices.Delete(v.Routers, i, i+1)
			if links := a.removeLinks(bgpLinksOf(network, name)); len(links) > 0 {
				gone = "; deleting a router deletes its BGP peers and interfaces, so these go with it (no BGP session, no dynamic routes): " + strings.Join(links, ", ")
			}
			i = -1
		}
		if k == remove {
			return done("%s deleted%s", what, gone)
		}
	}
	adv, asn := advertisement(after)
	if i < 0 {
		if k == update {
			return skip("%s: the model has no such router to update", what)
		}
		region := after.str("region")
		if region == "" {
			return skip("%s: the plan sets no region (the provider's default region is not in the plan)", what)
		}
		if asn == 0 {
			asn = defaultASN(v)
		}
		v.Routers = append(v.Routers, topology.Router{Name: name, Region: region, ASN: asn, Advertise: adv})
		return done("%s %s in %s: advertisement %s%s", what, k, region, describeAdv(adv), gone)
	}
	r := &v.Routers[i]
	old := describeAdv(r.Advertise)
	r.Advertise = adv
	if asn != 0 {
		r.ASN = asn
	}
	if now := describeAdv(adv); now != old {
		return done("%s: advertisement %s -> %s", what, old, now)
	}
	return done("%s: advertisement unchanged (%s)", what, old)
}

// advertisement reads a router's bgp block: mode, groups and ranges, and the ASN (0 unset).
func advertisement(at attrs) (*topology.Advertising, uint32) {
	bgp, ok := at.block("bgp")
	if !ok {
		return nil, 0
	}
	var asn uint32
	if n, ok := bgp.num("asn"); ok {
		asn = uint32(n)
	}
	mode := bgp.str("advertise_mode")
	if mode == "" || mode == topology.AdvertiseDefault {
		return &topology.Advertising{Mode: topology.AdvertiseDefault}, asn
	}
	adv := &topology.Advertising{Mode: mode, Groups: bgp.strs("advertised_groups")}
	for _, r := range bgp.blocks("advertised_ip_ranges") {
		adv.Ranges = append(adv.Ranges, r.str("range"))
	}
	return adv, asn
}

func describeAdv(adv *topology.Advertising) string {
	if adv == nil || adv.Mode == "" || adv.Mode == topology.AdvertiseDefault {
		return topology.AdvertiseDefault
	}
	return fmt.Sprintf("%s groups [%s] ranges [%s]", adv.Mode, strings.Join(adv.Groups, ", "), strings.Join(adv.Ranges, ", "))
}

// --- google_compute_router_peer ---

// perPeerAdvertisement are a BGP peer's own advertisement settings, which the model does not
// have: it announces the router's advertisement to every peer.
var perPeerAdvertisement = []string{"advertise_mode", "advertised_groups", "advertised_ip_ranges"}

func (a *applier) routerPeer(k kind, before, after attrs) (outcome, *routerKey) {
	src := after
	if k == remove {
		src = before
	}
	if k != remove {
		if u := after.unknown("name", "router", "region", "enable"); u != "" {
			return skip("%s: %s", u, knownAfterApply), nil
		}
	}
	name, router, region := src.str("name"), last(src.str("router")), src.str("region")
	key, ok := a.findRouter(router, region)
	if !ok {
		return skip("BGP peer %s: router %s is not in the model", name, router), nil
	}
	what := fmt.Sprintf("router %s (network %s)", router, key.vpc)
	var notes []string
	if k == update {
		diff := changed(before, after)
		var adv, session []string
		for _, d := range diff {
			switch {
			case slices.Contains(perPeerAdvertisement, d):
				adv = append(adv, d)
			case d != "enable":
				session = append(session, d)
			}
		}
		if len(adv) > 0 && !slices.Contains(diff, "enable") && len(session) == 0 {
			return skip("%s: BGP peer %s: per-peer custom advertisements are not modelled (changed: %s)", what, name, strings.Join(adv, ", ")), nil
		}
		if len(adv) > 0 {
			notes = append(notes, "per-peer custom advertisements are not modelled (changed: "+strings.Join(adv, ", ")+")")
		}
		if len(session) > 0 {
			notes = append(notes, "BGP session settings are not modelled, the session is assumed to come up (changed: "+strings.Join(session, ", ")+")")
		}
	} else if k != remove && after.str("advertise_mode") == topology.AdvertiseCustom {
		notes = append(notes, "its own CUSTOM advertisement is not modelled (the model announces the router's)")
	}
	peers := a.peerSet(key)
	n0 := len(peers)
	enabled := func(at attrs) bool { v, set := at.boolean("enable"); return !set || v }
	verb := k.String()
	switch {
	case k == remove:
		delete(peers, name)
	case !enabled(after):
		delete(peers, name)
		verb = "disabled"
	default:
		peers[name] = true
		if k == update {
			if v, set := before.boolean("enable"); set && !v {
				verb = "enabled"
			}
		}
	}
	msg := fmt.Sprintf("%s: BGP peer %s %s; peers %d -> %d", what, name, verb, n0, len(peers))
	for _, n := range notes {
		msg += "; " + n
	}
	return done("%s", msg), &key
}

// findRouter finds the VPC of the named router (in region, when given).
func (a *applier) findRouter(name, region string) (routerKey, bool) {
	for _, v := range a.f.Spec.VPCs {
		for _, r := range v.Routers {
			if r.Name == name && (region == "" || r.Region == region) {
				return routerKey{v.Name, name}, true
			}
		}
	}
	return routerKey{}, false
}

// peerSet is the router's current BGP peer names, starting from the snapshot's.
func (a *applier) peerSet(key routerKey) map[string]bool {
	if p, ok := a.peers[key]; ok {
		return p
	}
	p := map[string]bool{}
	for _, r := range a.s.base.Routers {
		if r.Network == key.vpc && r.Name == key.name {
			for _, peer := range r.Peers {
				if f := strings.Fields(peer); len(f) > 0 {
					p[f[0]] = true
				}
			}
		}
	}
	a.peers[key], a.hadPeers[key] = p, len(p) > 0
	return p
}

// finishPeers removes the interconnect and VPN links of every router the plan leaves without
// BGP peers (it had some in the snapshot): without a session no routes are learned over them.
// The count is taken once all changes are applied, so the plan's order does not matter.
func (a *applier) finishPeers(out []PlannedChange) {
	for _, key := range a.peerOrder {
		if !a.hadPeers[key] || len(a.peers[key]) > 0 {
			continue
		}
		v := a.vpc(key.vpc)
		if v == nil || !slices.ContainsFunc(v.Routers, func(r topology.Router) bool { return r.Name == key.name }) {
			continue
		}
		gone := a.removeLinks(bgpLinksOf(key.vpc, key.name))
		if len(gone) == 0 {
			continue
		}
		idx := a.peerChanges[key]
		c := &out[idx[len(idx)-1]]
		c.Effect += fmt.Sprintf("; router %s is left with no BGP peers, so these leave the model (no BGP session, no dynamic routes): %s", key.name, strings.Join(gone, ", "))
	}
}

// --- google_compute_network_peering and its routes config ---

func (a *applier) peering(k kind, before, after attrs) outcome {
	src := after
	if k == remove {
		src = before
	}
	if k != remove {
		if u := after.unknown("name", "network", "peer_network", "export_custom_routes", "import_custom_routes"); u != "" {
			return skip("%s: %s", u, knownAfterApply)
		}
	}
	name, network, peer := src.str("name"), last(src.str("network")), last(src.str("peer_network"))
	what := fmt.Sprintf("peering %s (network %s)", name, network)
	v := a.vpc(network)
	if v == nil {
		return skip("%s: network %s is not in the model", what, network)
	}
	if v.ManagedBy != "" {
		return done("%s: no change: network %s is managed by %s, and its side of a peering cannot be changed (the apply will fail)", what, network, strings.ToUpper(v.ManagedBy))
	}
	i := a.peeringLink(name, network, peer)
	if k == remove {
		if i < 0 {
			return done("%s deleted: the model has no such peering, nothing changes", what)
		}
		l := a.f.Spec.Links[i]
		a.f.Spec.Links = slices.Delete(a.f.Spec.Links, i, i+1)
		return done("%s deleted: the peering goes INACTIVE on both sides, so link %s leaves the model", what, l.Name)
	}
	exp, _ := after.boolean("export_custom_routes")
	imp, _ := after.boolean("import_custom_routes")
	if i >= 0 {
		return done("%s", setFlags(what, sideOf(&a.f.Spec.Links[i], network), exp, imp))
	}
	if k == update {
		return skip("%s: the model has no such peering to update", what)
	}
	if a.vpc(peer) == nil {
		return done("%s created: INACTIVE until the peer network creates its side (network %s is not in the model)", what, peer)
	}
	other, ok := a.peerSide(network, peer)
	if !ok {
		return done("%s created: INACTIVE until the peer network creates its side (network %s has no peering to %s in the model or the plan)", what, peer, network)
	}
	oexp, _ := other.boolean("export_custom_routes")
	oimp, _ := other.boolean("import_custom_routes")
	a.f.Spec.Links = append(a.f.Spec.Links, topology.Link{Name: name, Type: topology.LinkPeering,
		A: topology.LinkEnd{VPC: network, ExportCustomRoutes: exp, ImportCustomRoutes: imp},
		B: topology.LinkEnd{VPC: peer, ExportCustomRoutes: oexp, ImportCustomRoutes: oimp}})
	return done("%s created with %s's side in the plan: ACTIVE, link %s joins %s and %s (exportCustomRoutes %t, importCustomRoutes %t)", what, peer, name, network, peer, exp, imp)
}

// peerSide finds, among the plan's creations, the peering from peer back to network.
func (a *applier) peerSide(network, peer string) (attrs, bool) {
	for _, rc := range a.s.plan.ResourceChanges {
		acts := rc.Change.Actions
		if rc.Type != tfPeering || !(acts.Create() || acts.Replace()) {
			continue
		}
		at := newAttrs(rc.Change.After, rc.Change.AfterUnknown)
		if last(at.str("network")) == peer && last(at.str("peer_network")) == network {
			return at, true
		}
	}
	return attrs{}, false
}

func (a *applier) routesConfig(k kind, _, after attrs) outcome {
	if k == remove {
		return done("no effect: deleting a peering routes config leaves the peering's flags as they are (Terraform only forgets it)")
	}
	if u := after.unknown("peering", "network", "export_custom_routes", "import_custom_routes"); u != "" {
		return skip("%s: %s", u, knownAfterApply)
	}
	name, network := after.str("peering"), last(after.str("network"))
	what := fmt.Sprintf("peering %s (network %s)", name, network)
	v := a.vpc(network)
	if v == nil {
		return skip("%s: network %s is not in the model", what, network)
	}
	if v.ManagedBy != "" {
		return done("%s: no change: network %s is managed by %s, and its side of a peering cannot be changed (the apply will fail)", what, network, strings.ToUpper(v.ManagedBy))
	}
	i := a.peeringLink(name, network, "")
	if i < 0 {
		return skip("%s: the model has no such peering", what)
	}
	exp, _ := after.boolean("export_custom_routes")
	imp, _ := after.boolean("import_custom_routes")
	return done("%s", setFlags(what, sideOf(&a.f.Spec.Links[i], network), exp, imp))
}

// setFlags sets a side's custom-route flags and says what changed.
func setFlags(what string, e *topology.LinkEnd, exp, imp bool) string {
	var diff []string
	if e.ExportCustomRoutes != exp {
		diff = append(diff, fmt.Sprintf("exportCustomRoutes %t -> %t", e.ExportCustomRoutes, exp))
	}
	if e.ImportCustomRoutes != imp {
		diff = append(diff, fmt.Sprintf("importCustomRoutes %t -> %t", e.ImportCustomRoutes, imp))
	}
	e.ExportCustomRoutes, e.ImportCustomRoutes = exp, imp
	if len(diff) == 0 {
		return fmt.Sprintf("%s: flags unchanged (exportCustomRoutes %t, importCustomRoutes %t)", what, exp, imp)
	}
	return what + ": " + strings.Join(diff, ", ")
}

// --- google_compute_firewall ---

func (a *applier) firewall(k kind, before, after attrs) outcome {
	src := after
	if k == remove {
		src = before
	}
	if k != remove {
		if u := after.unknown("name", "network", "direction", "priority", "source_ranges", "source_tags",
			"source_service_accounts", "target_tags", "target_service_accounts", "allow", "deny", "disabled"); u != "" {
			return skip("%s: %s", u, knownAfterApply)
		}
	}
	name, network := src.str("name"), last(src.str("network"))
	what := fmt.Sprintf("firewall rule %s (network %s)", name, network)
	if strings.EqualFold(src.str("direction"), "EGRESS") {
		return skip("%s: EGRESS rules are not modelled (the model allows all egress, as GCP's implied rule does)", what)
	}
	v := a.vpc(network)
	if v == nil {
		return skip("%s: network %s is not in the model", what, network)
	}
	if !customerGCP(v) {
		return skip("%s: network %s is not a customer GCP VPC of the model, whose firewall the model has", what, network)
	}
	i := slices.IndexFunc(v.Firewall, func(r topology.FirewallRule) bool { return r.Name == name })
	old := ""
	if i >= 0 {
		old = describeRule(v.Firewall[i])
	}
	drop := func(why string) outcome {
		if i < 0 {
			return done("%s %s: the model has no such rule, nothing changes", what, why)
		}
		v.Firewall = slices.Delete(v.Firewall, i, i+1)
		return done("%s %s: removed (it was: %s)", what, why, old)
	}
	if k == remove {
		return drop("deleted")
	}
	if off, _ := after.boolean("disabled"); off {
		return drop("disabled")
	}
	if len(after.strs("target_service_accounts")) > 0 {
		return skip("%s: it targets service accounts, which the model does not have", what)
	}
	var notes []string
	sources := after.strs("source_ranges")
	tags, sas := after.strs("source_tags"), after.strs("source_service_accounts")
	switch {
	case len(sources) == 0 && (len(tags) > 0 || len(sas) > 0):
		return skip("%s: it matches sources by source_tags or source_service_accounts only, which the model does not have", what)
	case len(sources) == 0:
		// GCP: an ingress rule with no source at all applies to every source.
		sources = []string{"0.0.0.0/0"}
		notes = append(notes, "no source given, so GCP applies it to 0.0.0.0/0")
	case len(tags) > 0 || len(sas) > 0:
		notes = append(notes, "its source_tags/source_service_accounts are not modelled (only its source ranges match)")
	}
	r := topology.FirewallRule{Name: name, SourceRanges: sources, TargetTags: after.strs("target_tags")}
	blocks := after.blocks("allow")
	if deny := after.blocks("deny"); len(deny) > 0 {
		r.Action, blocks = "deny", deny
	}
	prio := topology.DefaultFirewallPriority
	if n, ok := after.num("priority"); ok {
		prio = int(n)
	}
	r.Priority = &prio
	ports, others := firewallPorts(blocks)
	if len(others) > 0 {
		notes = append(notes, "protocols the model does not have are left out: "+strings.Join(others, ", "))
	}
	if len(ports) == 0 {
		why := "it matches only protocols the model does not have (" + strings.Join(others, ", ") + "), so no modelled flow is affected"
		if i < 0 {
			return done("%s %s: %s", what, k, why)
		}
		o := drop(k.String())
		o.effect += "; " + why
		return o
	}
	r.Ports = ports
	now := describeRule(r)
	var msg string
	switch {
	case i < 0:
		v.Firewall = append(v.Firewall, r)
		msg = fmt.Sprintf("%s %s: %s", what, k, now)
	case old == now:
		v.Firewall[i] = r
		msg = fmt.Sprintf("%s %s: no effect on reachability (still %s)", what, k, now)
	default:
		v.Firewall[i] = r
		msg = fmt.Sprintf("%s %s: %s -> %s", what, k, old, now)
	}
	for _, n := range notes {
		msg += "; " + n
	}
	return done("%s", msg)
}

// firewallPorts converts allow or deny blocks to the topology's ports ("all", "tcp",
// "tcp:443", "tcp:30000-32767"); others are the protocols the topology does not have.
func firewallPorts(blocks []attrs) (ports, others []string) {
	numbers := map[string]string{"6": "tcp", "17": "udp", "1": "icmp"}
	for _, b := range blocks {
		proto := strings.ToLower(b.str("protocol"))
		if p, ok := numbers[proto]; ok {
			proto = p
		}
		switch proto {
		case "all", "icmp":
			ports = append(ports, proto)
		case "tcp", "udp":
			ps := b.strs("ports")
			if len(ps) == 0 {
				ports = append(ports, proto)
			}
			for _, p := range ps {
				ports = append(ports, proto+":"+p)
			}
		default:
			others = append(others, proto)
		}
	}
	return ports, others
}

func describeRule(r topology.FirewallRule) string {
	action, ports, prio := "allow", "all", topology.DefaultFirewallPriority
	if r.Action != "" {
		action = r.Action
	}
	if len(r.Ports) > 0 {
		ports = strings.Join(r.Ports, ",")
	}
	if r.Priority != nil {
		prio = *r.Priority
	}
	s := fmt.Sprintf("%s %s from %s, priority %d", action, ports, strings.Join(r.SourceRanges, ","), prio)
	if len(r.TargetTags) > 0 {
		s += ", target tags " + strings.Join(r.TargetTags, ",")
	}
	return s
}

// --- google_container_cluster ---

func (a *applier) cluster(k kind, before, after attrs) outcome {
	src := after
	if k == remove {
		src = before
	}
	name, location := src.str("name"), src.str("location")
	cl := a.f.Spec.Cluster
	what := "cluster " + name
	if cl == nil || cl.Name != name || (location != "" && location != cl.Location) {
		return skip("%s (%s) is not the model's cluster", what, location)
	}
	switch k {
	case remove:
		return skip("%s deleted: deleting the cluster is not modelled", what)
	case replace:
		return skip("%s replaced: a cluster's replacement is not modelled", what)
	}
	if u := after.unknown("master_authorized_networks_config", "private_endpoint_enforcement_enabled"); u != "" {
		return skip("%s: %s: %s", what, u, knownAfterApply)
	}
	if was, now := masterRange(before), masterRange(after); k == update && was != now {
		return skip("%s: master_ipv4_cidr_block %s -> %s replaces the cluster, which is not modelled", what, was, now)
	}
	if r := masterRange(after); r != "" && r != cl.MasterCIDR {
		return skip("%s: master_ipv4_cidr_block %s differs from the model's %s: the cluster would be replaced, which is not modelled", what, r, cl.MasterCIDR)
	}
	old := describeAuth(cl.AuthorizedNetworks)
	var an *topology.AuthorizedNetworks
	if man, ok := after.block("master_authorized_networks_config"); ok {
		an = &topology.AuthorizedNetworks{Enabled: true}
		for _, b := range man.blocks("cidr_blocks") {
			an.CIDRBlocks = append(an.CIDRBlocks, b.str("cidr_block"))
		}
		enf, set := man.boolean("private_endpoint_enforcement_enabled")
		if !set {
			enf, set = after.boolean("private_endpoint_enforcement_enabled")
		}
		if !set && cl.AuthorizedNetworks != nil {
			enf = cl.AuthorizedNetworks.PrivateEndpointEnforcement
		}
		an.PrivateEndpointEnforcement = enf
	}
	cl.AuthorizedNetworks = an
	msg := fmt.Sprintf("%s: master authorized networks %s -> %s", what, old, describeAuth(an))
	if now := describeAuth(an); now == old {
		msg = fmt.Sprintf("%s: master authorized networks unchanged (%s)", what, now)
	}
	if k == update {
		if other := changed(before, after, "master_authorized_networks_config", "private_endpoint_enforcement_enabled"); len(other) > 0 {
			msg += "; other changed settings are not modelled: " + strings.Join(other, ", ")
		}
	}
	return done("%s", msg)
}

func masterRange(at attrs) string {
	pc, _ := at.block("private_cluster_config")
	return pc.str("master_ipv4_cidr_block")
}

func describeAuth(an *topology.AuthorizedNetworks) string {
	if an == nil || !an.Enabled {
		return "disabled"
	}
	s := "enabled [" + strings.Join(an.CIDRBlocks, ", ") + "]"
	if an.PrivateEndpointEnforcement {
		return s + " (enforced on the private endpoint)"
	}
	return s + " (not enforced on the private endpoint)"
}
