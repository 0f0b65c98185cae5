package gcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/agent"
	"reachgate/framework/probe"
	"reachgate/framework/provider"
)

// AgentHost is a VM of the project, reached through reachgate's agent (package agent): a
// command goes in as a metadata item, its result comes back as guest attributes. Nothing
// else is needed of the VM: no SSH, no public address, no firewall rule.
type AgentHost struct {
	c              *Cloud
	zone, instance string
	// Kubeconfig is passed to kubectl at the VM ("" leaves kubectl's default).
	Kubeconfig string
	// Poll is how often a result is looked for (default 300 ms).
	Poll time.Duration
	// label is the host's name in the topology (the instance's otherwise).
	label string
}

var _ provider.Host = (*AgentHost)(nil)

// AgentHost is the instance in zone as a host.
func (c *Cloud) AgentHost(zone, instance string) *AgentHost {
	return &AgentHost{c: c, zone: zone, instance: instance, Poll: 300 * time.Millisecond}
}

// Name implements provider.Host.
func (h *AgentHost) Name() string {
	if h.label != "" {
		return h.label
	}
	return h.instance
}

// ErrNoDial is DialContext at a VM reached through the agent: a connection cannot travel
// through metadata. Checks from the VM run reachgate probe there (Run).
var ErrNoDial = errors.New("gcp: a VM reached through the agent has no connections from the harness; run `reachgate probe` at it instead")

// DialContext implements provider.Host: not possible through the agent (ErrNoDial).
func (h *AgentHost) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, ErrNoDial
}

var _ probe.RemoteTCP = (*AgentHost)(nil)

// ProbeTCP implements probe.RemoteTCP: reachgate probe --tcp at the VM.
func (h *AgentHost) ProbeTCP(ctx context.Context, addr string, timeout time.Duration) (probe.TCPResult, error) {
	res, err := h.Exec(ctx, agent.Job{Argv: []string{"reachgate", "probe", "--tcp", addr, "--timeout", timeout.String()},
		TimeoutSec: int(timeout.Seconds()) + 30})
	if err != nil {
		return probe.TCPResult{}, err
	}
	var out probe.TCPResult
	if jerr := json.Unmarshal(res.Stdout, &out); jerr != nil {
		return probe.TCPResult{}, &RunError{Instance: h.instance, Argv: []string{"reachgate", "probe", "--tcp", addr}, Result: res}
	}
	return out, nil
}

// Kubectl implements provider.Host: the agent's own kubectl (reachgate kubectl).
func (h *AgentHost) Kubectl(ctx context.Context, args ...string) (string, error) {
	argv := []string{"reachgate", "kubectl"}
	if h.Kubeconfig != "" {
		argv = append(argv, "--kubeconfig", h.Kubeconfig)
	}
	return h.Run(ctx, append(argv, args...)...)
}

// RunError is a command at a VM that failed: its exit status and stderr.
type RunError struct {
	Instance string
	Argv     []string
	Result   agent.Result
}

func (e *RunError) Error() string {
	why := fmt.Sprintf("exit %d", e.Result.Exit)
	if e.Result.Error != "" {
		why = e.Result.Error
	}
	return fmt.Sprintf("%s at %s: %s: %s", strings.Join(e.Argv, " "), e.Instance, why, strings.TrimSpace(string(e.Result.Stderr)))
}

// Run implements provider.Host: the command as a job in the instance's metadata, its result
// read from the guest attributes, the job removed afterwards.
func (h *AgentHost) Run(ctx context.Context, argv ...string) (string, error) {
	res, err := h.Exec(ctx, agent.Job{Argv: argv})
	if err != nil {
		return "", err
	}
	if res.Exit != 0 || res.Error != "" {
		return string(res.Stdout), &RunError{Instance: h.instance, Argv: argv, Result: res}
	}
	return string(res.Stdout), nil
}

// Exec runs a job and returns its result, whatever its exit status.
func (h *AgentHost) Exec(ctx context.Context, job agent.Job) (agent.Result, error) {
	if len(job.Argv) == 0 {
		return agent.Result{}, errors.New("gcp: run: no command")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	spec, err := json.Marshal(job)
	if err != nil {
		return agent.Result{}, err
	}
	key := agent.JobPrefix + id
	if err := h.c.UpdateMetadata(ctx, h.zone, h.instance, func(m map[string]string) { m[key] = string(spec) }); err != nil {
		return agent.Result{}, err
	}
	defer func() {
		// The job's item goes even when ctx ended: the agent then removes its result.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = h.c.UpdateMetadata(cctx, h.zone, h.instance, func(m map[string]string) { delete(m, key) })
	}()
	for {
		attrs, err := h.c.GuestAttributes(ctx, h.zone, h.instance, agent.GuestNamespace+"/")
		if err != nil {
			return agent.Result{}, err
		}
		res, ok, err := agent.Assemble(attrs, id)
		if err != nil {
			return agent.Result{}, err
		}
		if ok {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return agent.Result{}, fmt.Errorf("gcp: %s at %s: no result from the agent: %w", strings.Join(job.Argv, " "), h.instance, ctx.Err())
		case <-time.After(h.Poll):
		}
	}
}

// GuestAttributes reads the guest attributes under queryPath ("ns/") as key → value; none
// (GCE answers 404) is an empty map.
func (c *Cloud) GuestAttributes(ctx context.Context, zone, instance, queryPath string) (map[string]string, error) {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var got *computepb.GuestAttributes
	err := retry(cctx, func() (err error) {
		got, err = c.instances.GetGuestAttributes(cctx, &computepb.GetGuestAttributesInstanceRequest{
			Project: c.cfg.Project, Zone: zone, Instance: instance, QueryPath: proto.String(queryPath)})
		return err
	})
	if IsNotFound(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, wrap("get guest attributes of "+instance, err)
	}
	out := map[string]string{}
	for _, e := range got.GetQueryValue().GetItems() {
		out[e.GetKey()] = e.GetValue()
	}
	return out, nil
}

// UpdateMetadata changes an instance's metadata items with fn, locked by the fingerprint:
// a concurrent change (412) reads again and retries.
func (c *Cloud) UpdateMetadata(ctx context.Context, zone, instance string, fn func(map[string]string)) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		var inst *computepb.Instance
		err := retry(ctx, func() (err error) {
			inst, err = c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: c.cfg.Project, Zone: zone, Instance: instance})
			return err
		})
		if err != nil {
			return wrap("get instance "+instance, err)
		}
		md := inst.GetMetadata()
		m := map[string]string{}
		var order []string
		for _, it := range md.GetItems() {
			m[it.GetKey()] = it.GetValue()
			order = append(order, it.GetKey())
		}
		fn(m)
		next := &computepb.Metadata{Fingerprint: md.Fingerprint}
		for _, k := range order {
			if v, ok := m[k]; ok {
				next.Items = append(next.Items, &computepb.Items{Key: proto.String(k), Value: proto.String(v)})
				delete(m, k)
			}
		}
		for k, v := range m {
			next.Items = append(next.Items, &computepb.Items{Key: proto.String(k), Value: proto.String(v)})
		}
		var op *compute.Operation
		err = retry(ctx, func() (err error) {
			op, err = c.instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: c.cfg.Project, Zone: zone,
				Instance: instance, MetadataResource: next, RequestId: requestID()})
			return err
		})
		if err == nil {
			err = c.waitZone(ctx, zone, op)
		}
		if IsPreconditionFailed(err) && attempt < 20 {
			continue
		}
		if err != nil {
			return wrap("set metadata of "+instance, err)
		}
		return nil
	}
}

// waitZone waits for a zonal operation and reads it back.
func (c *Cloud) waitZone(ctx context.Context, zone string, op *compute.Operation) error {
	if err := op.Wait(ctx); err != nil {
		return &OperationError{Operation: op.Name(), Message: err.Error(), err: err}
	}
	got, err := c.zoneOps.Get(ctx, &computepb.GetZoneOperationRequest{Project: c.cfg.Project, Zone: zone, Operation: op.Name()})
	return operationResult(op.Name(), got, err)
}

// InstallAgent makes an instance run reachgate's agent: its metadata gets the startup
// script, the agent's URL and SHA-256 and enable-guest-attributes (other items are kept),
// the instance is reset so the script runs, and InstallAgent returns once the new agent has
// announced itself.
func (c *Cloud) InstallAgent(ctx context.Context, zone, instance, url, sha256 string) error {
	before, err := c.GuestAttributes(ctx, zone, instance, agent.GuestNamespace+"/")
	if err != nil {
		return err
	}
	if err := c.UpdateMetadata(ctx, zone, instance, func(m map[string]string) {
		for k := range m {
			if strings.HasPrefix(k, agent.JobPrefix) {
				delete(m, k) // a new agent would run an old job again
			}
		}
		m["startup-script"] = agent.StartupScript
		m[agent.URLKey] = url
		m[agent.SHA256Key] = sha256
		m["enable-guest-attributes"] = "TRUE"
	}); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var op *compute.Operation
	err = retry(cctx, func() (err error) {
		op, err = c.instances.Reset(cctx, &computepb.ResetInstanceRequest{Project: c.cfg.Project, Zone: zone, Instance: instance, RequestId: requestID()})
		return err
	})
	if err == nil {
		err = c.waitZone(cctx, zone, op)
	}
	if err != nil {
		return wrap("reset "+instance, err)
	}
	return c.waitAgent(ctx, zone, instance, before[agent.ReadyKey])
}

// InstanceZone finds an instance of the project by name (instances.aggregatedList) and
// returns its zone.
func (c *Cloud) InstanceZone(ctx context.Context, instance string) (string, error) {
	zone := ""
	err := c.eachInstance(ctx, func(z string, in *computepb.Instance) {
		if in.GetName() == instance {
			zone = z
		}
	})
	if err == nil && zone == "" {
		err = fmt.Errorf("gcp: no instance %s in project %s", instance, c.cfg.Project)
	}
	return zone, err
}

// eachInstance calls fn with every instance of the project and its zone (instances.aggregatedList).
func (c *Cloud) eachInstance(ctx context.Context, fn func(zone string, in *computepb.Instance)) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	it := c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: c.cfg.Project})
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return wrap("list instances", err)
		}
		for _, in := range pair.Value.GetInstances() {
			fn(lastSegment(in.GetZone()), in)
		}
	}
}
