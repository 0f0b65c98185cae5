package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Check groups of Run.
const (
	GroupHTTP     = "http"
	GroupTLS      = "tls"
	GroupVersions = "versions"
	GroupLatency  = "latency"
	GroupKubectl  = "kubectl"
)

// Groups lists the check groups in the order Run performs them.
var Groups = []string{GroupHTTP, GroupTLS, GroupVersions, GroupLatency, GroupKubectl}

// Options configure Run. Token is a secret: it is sent, never reported.
type Options struct {
	URL        string // https://IP[:port]
	CAPEM      []byte
	ServerName string
	Token      string
	// Kubeconfig is a path where Kubectl runs it; Kubectl runs kubectl there.
	Kubeconfig   string
	Kubectl      KubectlRunner
	KubectlCalls []KubectlCall // default DefaultKubectlCalls
	Samples      int           // latency samples per path (default 200)
	Paths        []string      // default DefaultPaths
	Groups       []string      // default all but kubectl when no Kubectl/Kubeconfig is given
	Budgets      *Budgets      // nil: TLS 1.2 and 30 days, no latency budgets
	Profile      string        // default "none"
}

// Report is one probe run: everything measured and every verdict. It holds no secret.
type Report struct {
	URL        string           `json:"url"`
	ServerName string           `json:"serverName,omitempty"`
	Profile    string           `json:"profile"`
	Started    time.Time        `json:"started"`
	Duration   Ms               `json:"durationMs"`
	Groups     []string         `json:"groups"`
	HTTP       *HTTPResult      `json:"http,omitempty"`
	TLS        *TLSReport       `json:"tls,omitempty"`
	Versions   []VersionSupport `json:"versions,omitempty"`
	Latency    []PathLatency    `json:"latency,omitempty"`
	Kubectl    []KubectlResult  `json:"kubectl,omitempty"`
	Checks     []Check          `json:"checks"`
	Budget     []Verdict        `json:"budget,omitempty"`
	Pass       bool             `json:"pass"`
}

// ParseGroups splits "http,tls" and rejects unknown names.
func ParseGroups(s string) ([]string, error) {
	var out []string
	for _, g := range strings.Split(s, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if !slices.Contains(Groups, g) {
			return nil, fmt.Errorf("check %q is not supported; supported: %s", g, strings.Join(Groups, ", "))
		}
		out = append(out, g)
	}
	return out, nil
}

// Run performs the selected checks from d. An error means the probe could not be set up
// (bad URL, unknown profile); failed checks are in the report (Pass false).
func Run(ctx context.Context, d Dialer, o Options) (*Report, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("url %q: want https://HOST[:PORT]", o.URL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	if o.Samples == 0 {
		o.Samples = 200
	}
	if len(o.Paths) == 0 {
		o.Paths = DefaultPaths
	}
	if o.Profile == "" {
		o.Profile = "none"
	}
	if len(o.Groups) == 0 {
		o.Groups = []string{GroupHTTP, GroupTLS, GroupVersions, GroupLatency}
		if o.Kubectl != nil && o.Kubeconfig != "" {
			o.Groups = append(o.Groups, GroupKubectl)
		}
	}
	if len(o.KubectlCalls) == 0 {
		o.KubectlCalls = DefaultKubectlCalls
	}
	minVersion, minDays := uint16(tls.VersionTLS12), 30.0
	if o.Budgets != nil {
		if _, err := o.Budgets.Profile(o.Profile); err != nil {
			return nil, err
		}
		if o.Budgets.TLS.MinVersion != 0 {
			minVersion = o.Budgets.TLS.MinVersion
		}
		if o.Budgets.TLS.MinDaysToExpiry != 0 {
			minDays = o.Budgets.TLS.MinDaysToExpiry
		}
	}
	if slices.Contains(o.Groups, GroupKubectl) && (o.Kubectl == nil || o.Kubeconfig == "") {
		return nil, fmt.Errorf("check kubectl needs a kubeconfig (--kubeconfig FILE)")
	}
	rep := &Report{URL: o.URL, ServerName: o.ServerName, Profile: o.Profile, Started: time.Now().UTC(), Groups: o.Groups}
	base := HTTPSRequest{URL: o.URL, CAPEM: o.CAPEM, ServerName: o.ServerName, Token: o.Token}
	has := func(g string) bool { return slices.Contains(o.Groups, g) }
	if has(GroupHTTP) {
		req := base
		req.URL = strings.TrimRight(origin(o.URL), "/") + "/version"
		r, err := HTTPSGet(ctx, d, req)
		rep.HTTP = &r
		switch {
		case err != nil:
			rep.Checks = append(rep.Checks, Check{Name: "http", Reason: err.Error()})
		case r.Status != 200:
			rep.Checks = append(rep.Checks, Check{Name: "http", Reason: fmt.Sprintf("GET /version answered %d; want 200", r.Status)})
		default:
			rep.Checks = append(rep.Checks, Check{Name: "http", Pass: true, Reason: fmt.Sprintf("GET /version answered 200 in %v over %s", r.Timing.Total, r.TLSVersion)})
		}
	}
	if has(GroupTLS) {
		t, err := InspectTLS(ctx, d, TLSRequest{Addr: addr, CAPEM: o.CAPEM, ServerName: o.ServerName, MinDaysToExpiry: minDays})
		if err != nil {
			rep.Checks = append(rep.Checks, Check{Name: "tls", Reason: err.Error()})
		} else {
			rep.TLS = &t
			rep.Checks = append(rep.Checks, t.Checks...)
		}
	}
	if has(GroupVersions) {
		vs, err := ProbeVersions(ctx, d, addr, o.ServerName, 0)
		rep.Versions = vs
		if err != nil {
			rep.Checks = append(rep.Checks, Check{Name: CheckVersions, Reason: err.Error()})
		} else {
			rep.Checks = append(rep.Checks, VersionsCheck(vs, minVersion))
		}
	}
	if has(GroupLatency) {
		for _, path := range o.Paths {
			pl, err := Latency(ctx, d, base, path, o.Samples)
			rep.Latency = append(rep.Latency, pl)
			name := "latency " + path
			switch {
			case err != nil:
				rep.Checks = append(rep.Checks, Check{Name: name, Reason: err.Error()})
			case pl.Errors > 0:
				rep.Checks = append(rep.Checks, Check{Name: name, Reason: fmt.Sprintf("%d of %d requests failed: %s", pl.Errors, pl.Samples, pl.FirstError)})
			default:
				rep.Checks = append(rep.Checks, Check{Name: name, Pass: true, Reason: fmt.Sprintf("%d requests: p50 %v p95 %v p99 %v max %v", pl.Samples, pl.P50, pl.P95, pl.P99, pl.Max)})
			}
		}
	}
	if has(GroupKubectl) {
		rep.Kubectl = Kubectl(ctx, o.Kubectl, o.Kubeconfig, o.KubectlCalls)
		for _, k := range rep.Kubectl {
			rep.Checks = append(rep.Checks, k.Check)
		}
	}
	if o.Budgets != nil {
		m := Measured{Latency: rep.Latency, TLS: rep.TLS, Versions: rep.Versions}
		v, err := o.Budgets.Evaluate(o.Profile, m)
		if err != nil {
			return nil, err
		}
		rep.Budget = v
	}
	rep.Duration = ToMs(time.Since(rep.Started))
	rep.Pass = AllPass(rep.Checks)
	for _, v := range rep.Budget {
		rep.Pass = rep.Pass && v.Pass
	}
	return rep, nil
}

// String is the one-line summary Ginkgo prints for a report entry (JUnit system-out).
func (r Report) String() string {
	var failed []string
	for _, c := range r.Checks {
		if !c.Pass {
			failed = append(failed, c.Name)
		}
	}
	for _, v := range r.Budget {
		if !v.Pass {
			failed = append(failed, v.Item)
		}
	}
	s := fmt.Sprintf("probe %s (profile %s): %d checks, %d budget items", r.URL, r.Profile, len(r.Checks), len(r.Budget))
	if len(failed) > 0 {
		return s + ", FAILED: " + strings.Join(failed, "; ")
	}
	return s + ", all pass"
}

// Verdicts prints one line per verdict (for report entries and JUnit).
type Verdicts []Verdict

// String lists the verdicts, one per line.
func (vs Verdicts) String() string {
	var b strings.Builder
	for _, v := range vs {
		mark := "PASS"
		if !v.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s\n", mark, v.Text)
	}
	return b.String()
}

// Checks prints one line per check (for report entries and JUnit).
type Checks []Check

// String lists the checks, one per line.
func (cs Checks) String() string {
	var b strings.Builder
	for _, c := range cs {
		mark := "PASS"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s: %s\n", mark, c.Name, c.Reason)
	}
	return b.String()
}
