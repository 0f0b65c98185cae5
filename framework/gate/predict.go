package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"go.yaml.in/yaml/v3"

	"reachgate/framework/netmodel"
	"reachgate/framework/probe"
	"reachgate/framework/topology"
)

// Prediction is what a Terraform plan would do to the baseline's flows, judged offline by the
// network model: each resource change with its effect on the model, and each baseline flow
// with the model's verdict before and after the plan.
type Prediction struct {
	Topology string          `json:"topology"`
	Baseline time.Time       `json:"baseline"`
	Changes  []PlannedChange `json:"changes"`
	Flows    []PredictedFlow `json:"flows"`
	// Unchanged counts the plan's no-op and read actions, which change nothing.
	Unchanged int `json:"unchanged"`
	// NotModelled counts the changes whose effect the model cannot judge.
	NotModelled int  `json:"notModelled"`
	Regression  bool `json:"regression"`
}

// PlannedChange is one resource change of the plan and what it does to the model.
type PlannedChange struct {
	Address string   `json:"address"`
	Type    string   `json:"type"`
	Actions []string `json:"actions"`
	// Modelled is false when the model cannot judge the change; Effect then says why.
	Modelled bool   `json:"modelled"`
	Effect   string `json:"effect"`
}

// PredictedFlow is one baseline flow: what the probe saw, and whether the model finds it
// reachable before and after the plan.
type PredictedFlow struct {
	Flow      string        `json:"flow"` // "from -> to"
	Baseline  probe.Outcome `json:"baseline"`
	Before    bool          `json:"before"`
	After     bool          `json:"after"`
	WhyBefore string        `json:"whyBefore,omitempty"`
	WhyAfter  string        `json:"whyAfter,omitempty"`
	// Regression: the probe reached the destination's network (Connected, or Refused: a reply
	// came back), the model agreed, and the model finds it unreachable after the plan.
	Regression bool `json:"regression"`
	// Note says when the model's verdict before the plan disagrees with the probe, or why the
	// flow could not be traced.
	Note string `json:"note,omitempty"`
}

// Changed reports whether the plan changes the flow's verdict.
func (f PredictedFlow) Changed() bool { return f.Before != f.After }

// PlanError is a plan the model cannot take: the change at Address leaves the topology
// invalid, or its routes cannot be computed.
type PlanError struct {
	Address string
	Err     error
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("the plan makes the model an invalid topology at %s: %v", e.Address, e.Err)
}

func (e *PlanError) Unwrap() error { return e.Err }

// ParsePlan reads the output of `terraform show -json PLANFILE`; name is the file, for errors.
func ParsePlan(name string, data []byte) (*tfjson.Plan, error) {
	const how = "write it with terraform show -json PLANFILE"
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: not JSON: line %d: %v (%s)", name, lineOf(data, se.Offset), se, how)
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("%s: not JSON: %v (%s)", name, err, how)
		}
		return nil, fmt.Errorf("%s: not a Terraform plan: the JSON is not an object (%s)", name, how)
	}
	if _, ok := top["format_version"]; !ok {
		return nil, fmt.Errorf("%s: not a Terraform plan: it has no format_version (%s)", name, how)
	}
	_, changes := top["resource_changes"]
	_, planned := top["planned_values"]
	if !changes && !planned {
		// terraform show -json of a state has values, never resource_changes or planned_values.
		return nil, fmt.Errorf("%s: not a Terraform plan: it has no resource_changes (a state's JSON has none either: %s)", name, how)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: not a Terraform plan reachgate reads: %v (plan format versions %s are read; %s)", name, err, tfjson.PlanFormatVersionConstraints, how)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v (plan format versions %s are read; %s)", name, err, tfjson.PlanFormatVersionConstraints, how)
	}
	for i, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || len(rc.Change.Actions) == 0 {
			return nil, fmt.Errorf("%s: resource_changes[%d] has no change.actions (the file is not terraform show -json output: %s)", name, i, how)
		}
	}
	return &p, nil
}

// lineOf is the 1-based line of byte offset off in data.
func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + strings.Count(string(data[:off]), "\n")
}

// Predict applies plan's resource changes to a copy of base's model and traces every baseline
// flow on the model before and after. base is not modified. A change the model cannot judge
// is listed as not modelled, never dropped.
func Predict(base *Snapshot, plan *tfjson.Plan) (*Prediction, error) {
	if base == nil || base.Model == nil {
		return nil, errors.New("gate predict: the baseline has no model: take it with a reachgate that imports the environment")
	}
	if base.Version != Version {
		return nil, fmt.Errorf("gate predict: the baseline is format version %d; this reachgate reads %d (take a new baseline)", base.Version, Version)
	}
	if plan == nil {
		return nil, errors.New("gate predict: no plan (give the output of terraform show -json PLANFILE)")
	}
	s, err := newScenario(base, plan)
	if err != nil {
		return nil, err
	}
	tBefore, mBefore, err := s.compute(s.model())
	if err != nil {
		return nil, fmt.Errorf("gate predict: the baseline's model is not a valid topology: %w (take the baseline again with a reachgate that imports the environment)", err)
	}
	after, changes, unchanged := s.run(plan.ResourceChanges)
	_, mAfter, err := s.compute(after)
	if err != nil {
		return nil, s.blame(err)
	}
	p := &Prediction{Topology: base.Topology, Baseline: base.Taken, Changes: changes, Flows: []PredictedFlow{}, Unchanged: unchanged}
	if p.Changes == nil {
		p.Changes = []PlannedChange{}
	}
	for _, c := range p.Changes {
		if !c.Modelled {
			p.NotModelled++
		}
	}
	for _, f := range base.Flows {
		pf := predictFlow(f, tBefore, mBefore, mAfter)
		p.Regression = p.Regression || pf.Regression
		p.Flows = append(p.Flows, pf)
	}
	return p, nil
}

// predictFlow traces f on the models before and after the plan.
func predictFlow(f Flow, t *topology.Topology, before, after *netmodel.Model) PredictedFlow {
	pf := PredictedFlow{Flow: f.key(), Baseline: f.Outcome}
	h := t.Host(f.From)
	if h == nil {
		pf.Note = fmt.Sprintf("not traced: the model has no host %q (the flow's source must be a host of the model)", f.From)
		return pf
	}
	to, err := netip.ParseAddrPort(f.To)
	if err != nil {
		pf.Note = fmt.Sprintf("not traced: %q is not address:port", f.To)
		return pf
	}
	flow := netmodel.Flow{Proto: "tcp", Port: to.Port()}
	b := before.TraceFlow(h.IP, to.Addr(), flow)
	a := after.TraceFlow(h.IP, to.Addr(), flow)
	pf.Before, pf.WhyBefore, pf.After, pf.WhyAfter = b.Reachable, b.Reason, a.Reachable, a.Reason
	reached := f.Outcome == probe.Connected || f.Outcome == probe.Refused
	switch {
	case reached && !pf.Before:
		pf.Note = fmt.Sprintf("the model finds this flow unreachable before the plan, but the baseline's probe saw %s: the model misses part of the environment, so its prediction for this flow cannot be trusted", f.Outcome)
	case !reached && pf.Before:
		pf.Note = fmt.Sprintf("the model finds this flow reachable before the plan, but the baseline's probe saw %s: the model misses part of the environment, so its prediction for this flow cannot be trusted", f.Outcome)
	}
	pf.Regression = reached && pf.Before && !pf.After
	return pf
}

// scenario holds what every application of the plan starts from.
type scenario struct {
	base *Snapshot
	plan *tfjson.Plan
	yaml []byte // base.Model with defaults that YAML cannot leave out
	name string // for topology errors
}

func newScenario(base *Snapshot, plan *tfjson.Plan) (*scenario, error) {
	data, err := yaml.Marshal(base.Model)
	if err != nil {
		return nil, fmt.Errorf("gate predict: the baseline's model: %w", err)
	}
	s := &scenario{base: base, plan: plan, yaml: data, name: base.Topology + " (the baseline's model)"}
	f := s.model()
	normalize(f)
	if s.yaml, err = yaml.Marshal(f); err != nil {
		return nil, fmt.Errorf("gate predict: the baseline's model: %w", err)
	}
	return s, nil
}

// model is a deep copy of the baseline's model.
func (s *scenario) model() *topology.File {
	var f topology.File
	if err := yaml.Unmarshal(s.yaml, &f); err != nil {
		panic(fmt.Sprintf("gate predict: a marshalled model does not unmarshal: %v", err))
	}
	return &f
}

// normalize sets what a topology file may leave out but YAML would write as a zero value: a
// router's ASN (0 is written as "asn: 0", which the parser refuses).
func normalize(f *topology.File) {
	for i := range f.Spec.VPCs {
		v := &f.Spec.VPCs[i]
		for j := range v.Routers {
			if v.Routers[j].ASN == 0 {
				v.Routers[j].ASN = defaultASN(v)
			}
		}
	}
}

func defaultASN(v *topology.VPC) uint32 {
	if v.Cloud == "" || v.Cloud == topology.CloudGCP {
		return topology.DefaultRouterASN
	}
	return topology.DefaultPeerASN
}

// compute parses f and computes its routes.
func (s *scenario) compute(f *topology.File) (*topology.Topology, *netmodel.Model, error) {
	m, err := computeModel(s.name, f)
	if err != nil {
		return nil, nil, err
	}
	return m.topo, m.m, nil
}

// blame finds the first change after which the model no longer computes, replaying the plan
// one change at a time.
func (s *scenario) blame(final error) error {
	changes := s.plan.ResourceChanges
	for k := 1; k <= len(changes); k++ {
		f, _, _ := s.run(changes[:k])
		if _, _, err := s.compute(f); err != nil {
			return &PlanError{Address: changes[k-1].Address, Err: err}
		}
	}
	return &PlanError{Address: "the end of the plan", Err: final}
}

// Text writes the prediction for a person: the verdict, each flow whose verdict changes (with
// the explanation after the plan), notes on flows the model disagrees with, then each change
// with its effect.
func (p *Prediction) Text() string {
	var b strings.Builder
	verdict := "PASS"
	if p.Regression {
		verdict = "REGRESSION"
	}
	changed := 0
	for _, f := range p.Flows {
		if f.Changed() {
			changed++
		}
	}
	fmt.Fprintf(&b, "gate predict: %s — %d of %d flow(s) change verdict; %d resource change(s), %d not modelled, %d unchanged; baseline %s of %s\n",
		verdict, changed, len(p.Flows), len(p.Changes), p.NotModelled, p.Unchanged, p.Topology, p.Baseline.Format(time.RFC3339))
	for _, f := range p.Flows {
		if f.Changed() {
			mark := ""
			if f.Regression {
				mark = " (regression)"
			}
			fmt.Fprintf(&b, "- flow %s: %s -> %s (baseline probe: %s)%s\n", f.Flow, reach(f.Before), reach(f.After), f.Baseline, mark)
			fmt.Fprintf(&b, "    after: %s\n", f.WhyAfter)
		}
	}
	for _, f := range p.Flows {
		if f.Note != "" {
			fmt.Fprintf(&b, "- note on flow %s: %s\n", f.Flow, f.Note)
		}
	}
	for _, c := range p.Changes {
		mark := ""
		if !c.Modelled {
			mark = "NOT MODELLED: "
		}
		fmt.Fprintf(&b, "- %s (%s): %s%s\n", c.Address, strings.Join(c.Actions, ", "), mark, c.Effect)
	}
	return b.String()
}

func reach(ok bool) string {
	if ok {
		return "reachable"
	}
	return "unreachable"
}
