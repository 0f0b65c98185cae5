// Package gate is reachgate's acceptance gate before a change to the access path: a snapshot
// of what decides reachability (Cloud Routers, peerings' custom-route flags, master authorized
// networks) read through the provider's cloud, with the verdicts of the flows that matter taken
// from the third-party position; and a check that takes a new snapshot and names every setting
// that changed and every flow whose verdict changed, with the reason. The same code runs on
// every provider that hands out its cloud.
package gate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"reachgate/fixtures"
	"reachgate/framework/cloud"
	"reachgate/framework/gcpimport"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
)

// Version is the snapshot format's version; Check refuses a baseline of another.
const Version = 1

// Snapshot is what decides reachability at one moment, and what it decided.
type Snapshot struct {
	Version    int                       `json:"version"`
	Taken      time.Time                 `json:"taken"`
	Topology   string                    `json:"topology"`
	Routers    []Router                  `json:"routers"`
	Peerings   []Peering                 `json:"peerings"`
	Authorized *cloud.AuthorizedNetworks `json:"authorizedNetworks,omitempty"`
	// GlobalAccess is a Private Service Connect cluster's control plane global access.
	GlobalAccess *bool  `json:"masterGlobalAccess,omitempty"`
	Flows        []Flow `json:"flows"`
	// Model is the environment as its cloud API reads (reachgate gcp import, with the
	// third-party side merged in): a topology that gate predict applies a plan to.
	Model *topology.File `json:"model,omitempty"`
	// ModelNotes say what the import left out of the model.
	ModelNotes []string `json:"modelNotes,omitempty"`
}

// Router is a Cloud Router's advertisement and BGP sessions.
type Router struct {
	Network string   `json:"network"`
	Name    string   `json:"name"`
	Mode    string   `json:"advertiseMode"`
	Groups  []string `json:"advertisedGroups,omitempty"`
	Ranges  []string `json:"advertisedIpRanges,omitempty"`
	// Peers are "name peerIpAddress ASN", sorted; Up counts the sessions UP.
	Peers   []string `json:"bgpPeers,omitempty"`
	Up      int      `json:"sessionsUp"`
	Learned []string `json:"learnedRanges,omitempty"`
}

// Peering is one customer VPC's side of a peering.
type Peering struct {
	Network            string `json:"network"`
	Name               string `json:"name"`
	ExportCustomRoutes bool   `json:"exportCustomRoutes"`
	ImportCustomRoutes bool   `json:"importCustomRoutes"`
}

// Flow is one connection the gate watches and its verdict.
type Flow struct {
	From    string        `json:"from"`
	To      string        `json:"to"` // address:port
	Outcome probe.Outcome `json:"outcome"`
	// Why is the provider's explanation (its network model), where it has one.
	Why string `json:"why,omitempty"`
	// Certificate is what the endpoint showed, when the flow connected.
	Certificate *Certificate `json:"certificate,omitempty"`
	// Version is GET /version at the endpoint, when the flow connected.
	Version *VersionCheck `json:"version,omitempty"`
}

// VersionCheck is GET /version repeated over one kept-alive connection (after a warm-up), and
// the p95 latency budget it is held to.
type VersionCheck struct {
	Samples  int      `json:"samples"`
	Errors   int      `json:"errors"`
	P95Ms    probe.Ms `json:"p95Ms"`
	BudgetMs probe.Ms `json:"budgetMs"`
	Profile  string   `json:"profile"`
	// Error is why no request was answered with 200 (e.g. anonymous access refused).
	Error string `json:"error,omitempty"`
}

// Certificate is the serving certificate a flow was shown: its fingerprint, its expiry and
// whether it verifies against the cluster's CA for the address.
type Certificate struct {
	LeafSHA256 string    `json:"leafSHA256"`
	NotAfter   time.Time `json:"notAfter"`
	Verified   bool      `json:"verified"`
	Problem    string    `json:"problem,omitempty"`
}

func (f Flow) key() string { return f.From + " -> " + f.To }

// Options for Take.
type Options struct {
	// Timeout is each flow's connect deadline (default 2 s).
	Timeout time.Duration
	// Flows are watched besides the default ones (every third-party and in-VPC client to the
	// private endpoint on 443).
	Flows []FlowSpec
	// External is the third-party side merged into the imported model; default the
	// environment's own (what its topology declares outside GCP).
	External *gcpimport.External
	// Budgets and Profile give the p95 budget of GET /version (default the embedded budgets,
	// profile none); Samples is the number of GETs (default 20).
	Budgets *probe.Budgets
	Profile string
	Samples int
}

// FlowSpec is a flow to watch: a host of the topology to an address and TCP port.
type FlowSpec struct {
	From string
	To   netip.AddrPort
}

// Watches reports whether o already names the flow f.
func (o Options) Watches(f FlowSpec) bool { return slices.Contains(o.Flows, f) }

// ParseFlowSpec reads "HOST=ADDR:PORT".
func ParseFlowSpec(s string) (FlowSpec, error) {
	from, to, ok := strings.Cut(s, "=")
	ap, err := netip.ParseAddrPort(to)
	if !ok || from == "" || err != nil || ap.Port() == 0 {
		return FlowSpec{}, fmt.Errorf("flow %q: write it as HOST=ADDR:PORT, like tp-vm=10.128.0.3:22", s)
	}
	return FlowSpec{From: from, To: ap}, nil
}

// Take reads env's cloud and probes, from every third-party client, the cluster's private
// endpoint on 443.
func Take(ctx context.Context, env provider.Environment, o Options) (*Snapshot, error) {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	ca, ok := env.(provider.CloudAccess)
	if !ok {
		return nil, errors.New("gate: the provider hands out no cloud API (" + provider.AbilityText[provider.CloudAccess]() + ")")
	}
	c := ca.Cloud()
	vc, ok := c.(provider.VPNCloud)
	if !ok {
		return nil, errors.New("gate: the provider's cloud has no Cloud Router and peering calls (" + provider.AbilityText[provider.VPNCloud]() + ")")
	}
	t := env.Topology()
	s := &Snapshot{Version: Version, Taken: time.Now().UTC(), Topology: t.Name, Routers: []Router{}, Peerings: []Peering{}, Flows: []Flow{}}
	if err := s.importModel(ctx, env, o.External); err != nil {
		return nil, err
	}
	for _, n := range t.Networks {
		if !n.GCP() || n.ManagedBy != "" {
			continue
		}
		for _, r := range n.Routers {
			rt, err := readRouter(ctx, vc, n.Name, r.Name)
			if err != nil {
				return nil, err
			}
			s.Routers = append(s.Routers, rt)
		}
	}
	for _, l := range t.Links {
		if l.Type != topology.LinkPeering {
			continue
		}
		for _, side := range []topology.Endpoint{l.A, l.B} {
			if n := t.Network(side.VPC); n == nil || !n.GCP() || n.ManagedBy != "" {
				continue
			}
			p, err := vc.GetPeering(ctx, side.VPC, l.Name)
			if err != nil {
				return nil, fmt.Errorf("gate: peering %s of %s: %w", l.Name, side.VPC, err)
			}
			s.Peerings = append(s.Peerings, Peering{Network: side.VPC, Name: l.Name, ExportCustomRoutes: p.ExportCustomRoutes, ImportCustomRoutes: p.ImportCustomRoutes})
		}
	}
	if t.Cluster == nil {
		return s, nil
	}
	an, err := vc.GetAuthorizedNetworks(ctx)
	if err != nil {
		return nil, fmt.Errorf("gate: authorized networks: %w", err)
	}
	s.Authorized = &an
	info, err := c.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("gate: cluster: %w", err)
	}
	if info.PrivateEndpointSubnetwork != "" {
		s.GlobalAccess = &info.MasterGlobalAccess
	}
	endpoint := netip.AddrPortFrom(info.PrivateEndpoint, 443)
	budget, err := versionBudget(&o)
	if err != nil {
		return nil, err
	}
	var specs []FlowSpec
	for _, role := range []string{topology.RoleThirdPartyClient, topology.RoleInVPCClient} {
		for _, h := range t.HostsWithRole(role) {
			specs = append(specs, FlowSpec{From: h.Name, To: endpoint})
		}
	}
	for _, f := range o.Flows {
		if !slices.Contains(specs, f) {
			specs = append(specs, f)
		}
	}
	model, _ := s.model()
	ex, _ := env.(provider.Explainer)
	for _, fs := range specs {
		host, err := env.Host(fs.From)
		if err != nil {
			return nil, fmt.Errorf("gate: flow from %s: %w", fs.From, err)
		}
		to := fs.To.String()
		f := Flow{From: fs.From, To: to, Outcome: probe.TCP(ctx, host, to, o.Timeout).Outcome}
		if f.Outcome == probe.Connected && fs.To == endpoint {
			f.Certificate = certificate(ctx, host, to, info.CAPEM, o.Timeout)
			f.Version = versionCheck(ctx, host, to, info.CAPEM, o, budget)
		}
		switch {
		case ex != nil:
			if _, why, err := ex.Explain(fs.From, fs.To); err == nil {
				f.Why = why
			}
		case model != nil:
			if tr, err := model.trace(fs.From, fs.To); err == nil {
				f.Why = tr.Reason
			}
		}
		s.Flows = append(s.Flows, f)
	}
	return s, nil
}

// importModel reads the environment's project through its GCP API into the snapshot's model,
// when the provider hands one out.
func (s *Snapshot) importModel(ctx context.Context, env provider.Environment, ext *gcpimport.External) error {
	api, ok := env.(provider.GCPAPI)
	if !ok {
		s.ModelNotes = []string{"no model: the provider hands out no GCP API (" + provider.AbilityText[provider.GCPAPI]() + "); gate predict needs one"}
		return nil
	}
	access, err := api.GCPAPI(ctx)
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	if ext == nil {
		ext = externalOf(env)
	}
	r, err := gcpimport.Import(ctx, gcpimport.Config{Project: access.Project, Endpoint: access.Endpoint, Options: access.Options,
		Name: env.Topology().Name}, ext)
	if err != nil {
		return fmt.Errorf("gate: import the model: %w", err)
	}
	s.Model, s.ModelNotes = r.File, r.Notes
	return nil
}

// versionBudget is the p95 budget of GET /version on o's profile, defaults filled in.
func versionBudget(o *Options) (probe.Ms, error) {
	if o.Budgets == nil {
		b, err := probe.ParseBudgets("embedded:fixtures/budgets.yaml", fixtures.Budgets())
		if err != nil {
			return 0, err
		}
		o.Budgets = b
	}
	if o.Profile == "" {
		o.Profile = "none"
	}
	if o.Samples == 0 {
		o.Samples = 20
	}
	p, err := o.Budgets.Profile(o.Profile)
	if err != nil {
		return 0, fmt.Errorf("gate: %w", err)
	}
	for _, lb := range o.Budgets.Latency {
		if lb.Path == "/version" && lb.Quantile == "p95" {
			return lb.Limit(p), nil
		}
	}
	return 0, fmt.Errorf("gate: %s has no p95 budget for GET /version", o.Budgets.Source)
}

// versionCheck measures GET /version at addr.
func versionCheck(ctx context.Context, d probe.Dialer, addr string, ca []byte, o Options, budget probe.Ms) *VersionCheck {
	lat, err := probe.Latency(ctx, d, probe.HTTPSRequest{URL: "https://" + addr, CAPEM: ca, Timeout: 2 * o.Timeout}, "/version", o.Samples)
	v := &VersionCheck{Samples: lat.Samples, Errors: lat.Errors, P95Ms: lat.P95, BudgetMs: budget, Profile: o.Profile}
	if err != nil {
		v.Error = err.Error()
	} else if lat.FirstError != "" {
		v.Error = lat.FirstError
	}
	return v
}

// certificate inspects the TLS certificate at addr; nil when no handshake completed.
func certificate(ctx context.Context, d probe.Dialer, addr string, ca []byte, timeout time.Duration) *Certificate {
	rep, err := probe.InspectTLS(ctx, d, probe.TLSRequest{Addr: addr, CAPEM: ca, Timeout: timeout})
	if err != nil {
		return nil
	}
	c := &Certificate{LeafSHA256: rep.LeafSHA256, NotAfter: rep.NotAfter, Verified: true}
	for _, ch := range rep.Checks {
		if !ch.Pass && ch.Name != probe.CheckExpiry {
			c.Verified, c.Problem = false, strings.TrimSpace(c.Problem+" "+ch.Reason)
		}
	}
	return c
}

func readRouter(ctx context.Context, vc provider.VPNCloud, network, name string) (Router, error) {
	rt, err := vc.GetRouter(ctx, network, name)
	if err != nil {
		return Router{}, fmt.Errorf("gate: router %s/%s: %w", network, name, err)
	}
	st, err := vc.GetRouterStatus(ctx, network, name)
	if err != nil {
		return Router{}, fmt.Errorf("gate: router %s/%s status: %w", network, name, err)
	}
	out := Router{Network: network, Name: name, Mode: rt.Advertise.Mode, Groups: sorted(rt.Advertise.Groups), Up: st.Up()}
	for _, r := range rt.Advertise.Ranges {
		out.Ranges = append(out.Ranges, r.String())
	}
	for _, p := range rt.BgpPeers {
		out.Peers = append(out.Peers, fmt.Sprintf("%s %s %d", p.Name, p.PeerIPAddress, p.PeerAsn))
	}
	for _, b := range st.BestRoutes {
		out.Learned = append(out.Learned, b.DestRange)
	}
	out.Ranges, out.Peers, out.Learned = sorted(out.Ranges), sorted(out.Peers), sorted(slices.Compact(sorted(out.Learned)))
	return out, nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Change is a setting that differs between two snapshots.
type Change struct {
	What   string `json:"what"` // e.g. "peering gke-peering (network gke): exportCustomRoutes"
	Before string `json:"before"`
	After  string `json:"after"`
	// Regression marks a change that lost something by itself (fewer BGP sessions up).
	Regression bool `json:"regression,omitempty"`
}

// FlowChange is a flow whose verdict differs.
type FlowChange struct {
	Flow   string        `json:"flow"`
	Before probe.Outcome `json:"before"`
	After  probe.Outcome `json:"after"`
	// WhyBefore and WhyAfter are the explanations, where the provider has a model.
	WhyBefore  string `json:"whyBefore,omitempty"`
	WhyAfter   string `json:"whyAfter,omitempty"`
	Regression bool   `json:"regression"`
}

// Result is a check against a baseline.
type Result struct {
	Baseline   time.Time    `json:"baseline"`
	Now        time.Time    `json:"now"`
	Changes    []Change     `json:"changes"`
	Flows      []FlowChange `json:"flows"`
	Regression bool         `json:"regression"`
}

// MinDaysToExpiry is how close to expiry a certificate may be before Compare calls it a
// regression.
const MinDaysToExpiry = 30

// Compare names what changed from base to cur. A flow that was Connected and is not any more,
// a router with fewer sessions up, and a certificate that no longer verifies or expires within
// MinDaysToExpiry of cur's time are regressions.
func Compare(base, cur *Snapshot) (*Result, error) {
	if base.Version != Version {
		return nil, fmt.Errorf("gate: the baseline is format version %d; this reachgate reads %d (take a new baseline)", base.Version, Version)
	}
	r := &Result{Baseline: base.Taken, Now: cur.Taken, Changes: []Change{}, Flows: []FlowChange{}}
	add := func(what, before, after string, regression bool) {
		if before != after {
			r.Changes = append(r.Changes, Change{What: what, Before: before, After: after, Regression: regression})
		}
	}
	routers := map[string]Router{}
	for _, rt := range cur.Routers {
		routers[rt.Network+"/"+rt.Name] = rt
	}
	for _, b := range base.Routers {
		what := fmt.Sprintf("router %s (network %s)", b.Name, b.Network)
		c, ok := routers[b.Network+"/"+b.Name]
		if !ok {
			add(what, "present", "absent", true)
			continue
		}
		add(what+": advertiseMode", b.Mode, c.Mode, false)
		add(what+": advertisedGroups", list(b.Groups), list(c.Groups), false)
		add(what+": advertisedIpRanges", list(b.Ranges), list(c.Ranges), false)
		add(what+": bgpPeers", list(b.Peers), list(c.Peers), false)
		add(what+": sessions up", fmt.Sprint(b.Up), fmt.Sprint(c.Up), c.Up < b.Up)
		add(what+": learned ranges", list(b.Learned), list(c.Learned), false)
	}
	peerings := map[string]Peering{}
	for _, p := range cur.Peerings {
		peerings[p.Network+"/"+p.Name] = p
	}
	for _, b := range base.Peerings {
		what := fmt.Sprintf("peering %s (network %s)", b.Name, b.Network)
		c, ok := peerings[b.Network+"/"+b.Name]
		if !ok {
			add(what, "present", "absent", true)
			continue
		}
		add(what+": exportCustomRoutes", fmt.Sprint(b.ExportCustomRoutes), fmt.Sprint(c.ExportCustomRoutes), false)
		add(what+": importCustomRoutes", fmt.Sprint(b.ImportCustomRoutes), fmt.Sprint(c.ImportCustomRoutes), false)
	}
	if base.Authorized != nil && cur.Authorized != nil {
		add("master authorized networks: enabled", fmt.Sprint(base.Authorized.Enabled), fmt.Sprint(cur.Authorized.Enabled), false)
		add("master authorized networks: cidrBlocks", prefixes(base.Authorized.CIDRBlocks), prefixes(cur.Authorized.CIDRBlocks), false)
	}
	if base.GlobalAccess != nil && cur.GlobalAccess != nil {
		add("control plane global access", fmt.Sprint(*base.GlobalAccess), fmt.Sprint(*cur.GlobalAccess), false)
	}
	if base.Model != nil && cur.Model != nil {
		compareModels(base.Model, cur.Model, add)
	}
	flows := map[string]Flow{}
	for _, f := range cur.Flows {
		flows[f.key()] = f
	}
	for _, b := range base.Flows {
		c, ok := flows[b.key()]
		if !ok {
			c = Flow{Outcome: "not probed"}
		}
		if c.Outcome != b.Outcome {
			r.Flows = append(r.Flows, FlowChange{Flow: b.key(), Before: b.Outcome, After: c.Outcome, WhyBefore: b.Why, WhyAfter: c.Why,
				Regression: b.Outcome == probe.Connected})
		}
		if b.Certificate != nil && c.Certificate != nil {
			what := "certificate at " + b.To + " seen from " + b.From
			add(what+": leaf SHA-256", b.Certificate.LeafSHA256, c.Certificate.LeafSHA256, false)
			add(what+": verifies", fmt.Sprint(b.Certificate.Verified), strings.TrimSpace(fmt.Sprint(c.Certificate.Verified)+" "+c.Certificate.Problem),
				b.Certificate.Verified && !c.Certificate.Verified)
		}
		if c.Version != nil {
			what := "GET /version at " + c.To + " from " + c.From
			switch {
			case b.Version != nil && b.Version.Error == "" && c.Version.Error != "":
				r.Changes = append(r.Changes, Change{What: what, Before: "answered", After: c.Version.Error, Regression: true})
			case c.Version.Error == "" && (c.Version.Errors > 0 || c.Version.P95Ms > c.Version.BudgetMs):
				r.Changes = append(r.Changes, Change{What: what + ": p95 latency budget",
					Before: fmt.Sprintf("<= %s (profile %s)", c.Version.BudgetMs, c.Version.Profile),
					After:  fmt.Sprintf("p95 %s, %d of %d errors: budget missed", c.Version.P95Ms, c.Version.Errors, c.Version.Samples), Regression: true})
			}
		}
		if c.Certificate != nil {
			if days := c.Certificate.NotAfter.Sub(cur.Taken).Hours() / 24; days < MinDaysToExpiry {
				r.Changes = append(r.Changes, Change{What: "certificate at " + c.To + " seen from " + c.From + ": expiry",
					Before: fmt.Sprintf("at least %d days", MinDaysToExpiry), After: fmt.Sprintf("%.1f days (%s)", days, c.Certificate.NotAfter.Format(time.RFC3339)), Regression: true})
			}
		}
	}
	for _, c := range r.Changes {
		r.Regression = r.Regression || c.Regression
	}
	for _, f := range r.Flows {
		r.Regression = r.Regression || f.Regression
	}
	return r, nil
}

func list(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

func prefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return list(sorted(s))
}

// Text writes the result for a person: the verdict, then each changed flow (with the reason)
// and each changed setting.
func (r *Result) Text() string {
	var b strings.Builder
	verdict := "PASS"
	if r.Regression {
		verdict = "REGRESSION"
	}
	fmt.Fprintf(&b, "gate check: %s — %d flow(s) changed verdict, %d setting(s) changed since the baseline of %s\n",
		verdict, len(r.Flows), len(r.Changes), r.Baseline.Format(time.RFC3339))
	for _, f := range r.Flows {
		fmt.Fprintf(&b, "- flow %s: %s -> %s\n", f.Flow, f.Before, f.After)
		if f.WhyAfter != "" {
			fmt.Fprintf(&b, "    now: %s\n", f.WhyAfter)
		}
	}
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "- %s: %s -> %s\n", c.What, c.Before, c.After)
	}
	return b.String()
}
