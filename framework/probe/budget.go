package probe

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Budgets is a parsed budgets file (fixtures/budgets.yaml): network profiles and what each
// measurement may cost on them.
type Budgets struct {
	Profiles []Profile
	Latency  []LatencyBudget
	TLS      TLSBudget
	// Source names the file (for messages).
	Source string
}

// Profile is a network between the third-party VM and the GKE VPC.
type Profile struct {
	Name        string
	RTT         Ms
	LossPercent float64
	Line        int
}

// LatencyBudget bounds one quantile of one path: Quantile <= RTT*RTTFactor + Plus, and the
// error count <= MaxErrors. Overrides replace RTTFactor/Plus on named profiles.
type LatencyBudget struct {
	Path      string
	Quantile  string // p50, p95, p99 or max
	RTTFactor float64
	Plus      Ms
	MaxErrors int
	Overrides map[string]LatencyTerms
	Line      int
}

// LatencyTerms are the two terms of a latency limit.
type LatencyTerms struct {
	RTTFactor float64
	Plus      Ms
}

// TLSBudget bounds what the endpoint's TLS may be.
type TLSBudget struct {
	MinVersion      uint16
	MinDaysToExpiry float64
}

// BudgetError locates a problem in a budgets file.
type BudgetError struct {
	File string
	Line int
	Msg  string
}

func (e *BudgetError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// LoadBudgetsFile reads and parses a budgets file.
func LoadBudgetsFile(path string) (*Budgets, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read budgets: %w", err)
	}
	return ParseBudgets(path, data)
}

var quantiles = []string{"p50", "p95", "p99", "max"}

// ParseBudgets parses a budgets document strictly: unknown or duplicate keys, wrong types,
// unknown profiles in overrides and missing fields are errors that name file and line.
func ParseBudgets(name string, data []byte) (b *Budgets, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, &BudgetError{File: name, Line: 1, Msg: fmt.Sprintf("invalid YAML: the parser failed: %v (simplify the file)", r)}
		}
	}()
	p := &budgetParser{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &BudgetError{File: name, Line: 1, Msg: "the file is empty (write apiVersion: reachgate.dev/v1alpha1, kind: Budgets, profiles, latency and tls)"}
		}
		return nil, &BudgetError{File: name, Line: yamlErrLine(err), Msg: "invalid YAML: " + err.Error()}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &BudgetError{File: name, Line: extra.Line, Msg: "a second YAML document starts here (a budgets file holds one document)"}
	}
	b = p.document(root.Content[0])
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	b.Source = name
	return b, nil
}

func yamlErrLine(err error) int {
	// yaml.v3 messages read "yaml: line N: …".
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		rest := s[i+5:]
		if j := strings.IndexByte(rest, ':'); j > 0 {
			if n, err := strconv.Atoi(rest[:j]); err == nil {
				return n
			}
		}
	}
	return 1
}

type budgetParser struct {
	file string
	errs []error
}

func (p *budgetParser) errorf(n *yaml.Node, format string, a ...any) {
	p.errs = append(p.errs, &BudgetError{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, a...)})
}

// fields returns a mapping's values by key, reporting unknown, duplicate and missing keys.
func (p *budgetParser) fields(n *yaml.Node, what string, required, optional []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping (key: value lines)", what)
		return out
	}
	known := append(slices.Clone(required), optional...)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(known, k.Value):
			p.errorf(k, "%s: unknown field %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		case out[k.Value] != nil:
			p.errorf(k, "%s: field %q given twice (keep one)", what, k.Value)
		default:
			out[k.Value] = v
		}
	}
	for _, r := range required {
		if out[r] == nil {
			p.errorf(n, "%s: missing field %q", what, r)
		}
	}
	return out
}

func (p *budgetParser) str(n *yaml.Node, what string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s must be a string", what)
		return ""
	}
	return n.Value
}

func (p *budgetParser) num(n *yaml.Node, what string) float64 {
	if n == nil {
		return 0
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || v < 0 {
		p.errorf(n, "%s must be a non-negative number, got %q", what, n.Value)
		return 0
	}
	return v
}

func (p *budgetParser) document(n *yaml.Node) *Budgets {
	b := &Budgets{}
	f := p.fields(n, "budgets", []string{"apiVersion", "kind", "profiles", "latency", "tls"}, nil)
	if v := p.str(f["apiVersion"], "apiVersion"); f["apiVersion"] != nil && v != "reachgate.dev/v1alpha1" {
		p.errorf(f["apiVersion"], "apiVersion %q is not supported (use reachgate.dev/v1alpha1)", v)
	}
	if v := p.str(f["kind"], "kind"); f["kind"] != nil && v != "Budgets" {
		p.errorf(f["kind"], "kind %q: a budgets file has kind: Budgets", v)
	}
	if pn := f["profiles"]; pn != nil {
		if pn.Kind != yaml.SequenceNode {
			p.errorf(pn, "profiles must be a list of {name, rttMs[, lossPercent]}")
		} else {
			for i, item := range pn.Content {
				what := fmt.Sprintf("profiles[%d]", i)
				pf := p.fields(item, what, []string{"name", "rttMs"}, []string{"lossPercent", "description"})
				pr := Profile{Name: p.str(pf["name"], what+".name"), RTT: Ms(p.num(pf["rttMs"], what+".rttMs")),
					LossPercent: p.num(pf["lossPercent"], what+".lossPercent"), Line: item.Line}
				p.str(pf["description"], what+".description")
				if pr.Name != "" && slices.ContainsFunc(b.Profiles, func(o Profile) bool { return o.Name == pr.Name }) {
					p.errorf(item, "%s: profile %q is defined twice (rename or remove one)", what, pr.Name)
				}
				if pr.LossPercent > 100 {
					p.errorf(pf["lossPercent"], "%s.lossPercent %g is over 100", what, pr.LossPercent)
				}
				b.Profiles = append(b.Profiles, pr)
			}
		}
	}
	if ln := f["latency"]; ln != nil {
		if ln.Kind != yaml.SequenceNode {
			p.errorf(ln, "latency must be a list of {path, quantile, rttFactor, plusMs[, maxErrors, profiles]}")
		} else {
			for i, item := range ln.Content {
				b.Latency = append(b.Latency, p.latency(item, fmt.Sprintf("latency[%d]", i), b))
			}
		}
	}
	if tn := f["tls"]; tn != nil {
		tf := p.fields(tn, "tls", []string{"minVersion", "minDaysToExpiry"}, nil)
		if tf["minVersion"] != nil {
			v, ok := VersionID(tf["minVersion"].Value)
			if !ok {
				p.errorf(tf["minVersion"], "tls.minVersion %q: use one of \"1.0\", \"1.1\", \"1.2\", \"1.3\" (quoted)", tf["minVersion"].Value)
			}
			b.TLS.MinVersion = v
		}
		b.TLS.MinDaysToExpiry = p.num(tf["minDaysToExpiry"], "tls.minDaysToExpiry")
	}
	return b
}

func (p *budgetParser) latency(item *yaml.Node, what string, b *Budgets) LatencyBudget {
	lf := p.fields(item, what, []string{"path", "quantile", "rttFactor", "plusMs"}, []string{"maxErrors", "profiles"})
	lb := LatencyBudget{Path: p.str(lf["path"], what+".path"), Quantile: p.str(lf["quantile"], what+".quantile"),
		RTTFactor: p.num(lf["rttFactor"], what+".rttFactor"), Plus: Ms(p.num(lf["plusMs"], what+".plusMs")),
		MaxErrors: int(p.num(lf["maxErrors"], what+".maxErrors")), Line: item.Line}
	if lf["path"] != nil && !strings.HasPrefix(lb.Path, "/") {
		p.errorf(lf["path"], "%s.path %q must start with / (e.g. /version)", what, lb.Path)
	}
	if lf["quantile"] != nil && !slices.Contains(quantiles, lb.Quantile) {
		p.errorf(lf["quantile"], "%s.quantile %q: use one of %s", what, lb.Quantile, strings.Join(quantiles, ", "))
	}
	if on := lf["profiles"]; on != nil {
		lb.Overrides = map[string]LatencyTerms{}
		of := p.fields(on, what+".profiles", nil, profileNames(b))
		for name, v := range of {
			tf := p.fields(v, what+".profiles."+name, nil, []string{"rttFactor", "plusMs"})
			t := LatencyTerms{RTTFactor: lb.RTTFactor, Plus: lb.Plus}
			if tf["rttFactor"] != nil {
				t.RTTFactor = p.num(tf["rttFactor"], what+".profiles."+name+".rttFactor")
			}
			if tf["plusMs"] != nil {
				t.Plus = Ms(p.num(tf["plusMs"], what+".profiles."+name+".plusMs"))
			}
			lb.Overrides[name] = t
		}
	}
	return lb
}

func profileNames(b *Budgets) []string {
	var out []string
	for _, p := range b.Profiles {
		out = append(out, p.Name)
	}
	return out
}

// Profile returns the named profile.
func (b *Budgets) Profile(name string) (Profile, error) {
	for _, p := range b.Profiles {
		if p.Name == name {
			return p, nil
		}
	}
	names := profileNames(b)
	sort.Strings(names)
	return Profile{}, fmt.Errorf("profile %q is not in %s; known: %s", name, b.Source, strings.Join(names, ", "))
}

// Limit is the latency budget of lb on a profile.
func (lb LatencyBudget) Limit(p Profile) Ms {
	t := LatencyTerms{RTTFactor: lb.RTTFactor, Plus: lb.Plus}
	if o, ok := lb.Overrides[p.Name]; ok {
		t = o
	}
	return Ms(float64(p.RTT)*t.RTTFactor) + t.Plus
}

// Verdict is a measurement held against its budget.
type Verdict struct {
	Item     string `json:"item"`
	Measured string `json:"measured"`
	Budget   string `json:"budget"`
	Pass     bool   `json:"pass"`
	Text     string `json:"text"`
}

// Measured is what Evaluate judges; absent measurements are not judged.
type Measured struct {
	Latency  []PathLatency
	TLS      *TLSReport
	Versions []VersionSupport
}

// Evaluate holds each measurement against its budget on the profile.
func (b *Budgets) Evaluate(profile string, m Measured) ([]Verdict, error) {
	p, err := b.Profile(profile)
	if err != nil {
		return nil, err
	}
	var out []Verdict
	add := func(item, measured, budget string, ok bool) {
		verb := map[bool]string{true: "meets", false: "MISSES"}[ok]
		out = append(out, Verdict{Item: item, Measured: measured, Budget: budget, Pass: ok,
			Text: fmt.Sprintf("%s: %s, %s budget %s (profile %s)", item, measured, verb, budget, p.Name)})
	}
	for _, lb := range b.Latency {
		for _, pl := range m.Latency {
			if pl.Path != lb.Path {
				continue
			}
			got := map[string]Ms{"p50": pl.P50, "p95": pl.P95, "p99": pl.P99, "max": pl.Max}[lb.Quantile]
			limit := lb.Limit(p)
			add(fmt.Sprintf("%s GET %s", lb.Quantile, lb.Path), got.String(),
				fmt.Sprintf("<= %s (RTT %g ms)", limit, float64(p.RTT)), pl.Samples > pl.Errors && got <= limit)
			add(fmt.Sprintf("errors GET %s", lb.Path), fmt.Sprintf("%d of %d", pl.Errors, pl.Samples),
				fmt.Sprintf("<= %d", lb.MaxErrors), pl.Errors <= lb.MaxErrors)
		}
	}
	if m.TLS != nil && b.TLS.MinDaysToExpiry > 0 {
		add("TLS days to expiry", fmt.Sprintf("%.1f days", m.TLS.DaysToExpiry), fmt.Sprintf(">= %g days", b.TLS.MinDaysToExpiry),
			m.TLS.DaysToExpiry >= b.TLS.MinDaysToExpiry)
	}
	if len(m.Versions) > 0 && b.TLS.MinVersion != 0 {
		c := VersionsCheck(m.Versions, b.TLS.MinVersion)
		var acc []string
		for _, v := range m.Versions {
			if v.Accepted {
				acc = append(acc, v.Version)
			}
		}
		add("TLS versions accepted", "["+strings.Join(acc, ", ")+"]", ">= "+tls.VersionName(b.TLS.MinVersion)+" only", c.Pass)
	}
	return out, nil
}
