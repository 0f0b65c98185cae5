package lab

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/agent"
	"reachgate/framework/provider/gcp"
)

// The agent protocol end to end in one process: the official compute client sets metadata
// and reads guest attributes on the lab's API; the agent (the same code `reachgate agent`
// runs) long-polls the instance's metadata server and answers.
func TestAgentThroughLabAPI(t *testing.T) {
	lc, c, _, url, api := newAPIServer(t, "seed")
	const vm = "jumpbox"
	h := lc.L.Topology.Host(vm)
	zone := h.Region + "-a"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	md, err := api.MetadataServer(vm)
	if err != nil {
		t.Fatal(err)
	}
	mdSrv := httptest.NewServer(md)
	defer mdSrv.Close()
	if _, err := api.MetadataServer("tp-vm"); err == nil {
		t.Fatal("tp-vm (the third-party cloud's VM) has a GCE metadata server")
	}

	if err := c.UpdateMetadata(ctx, zone, vm, func(m map[string]string) { m["enable-guest-attributes"] = "TRUE" }); err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(actx, agent.Options{Base: mdSrv.URL, Poll: 2 * time.Second}) }()
	defer func() {
		stop()
		<-agentDone
	}()

	host := c.AgentHost(zone, vm)
	host.Poll = 50 * time.Millisecond
	out, err := host.Run(ctx, "sh", "-c", "echo hello; echo to-stderr >&2")
	if err != nil || out != "hello\n" {
		t.Fatalf("run: %q, %v", out, err)
	}
	_, err = host.Run(ctx, "sh", "-c", "echo oops >&2; exit 3")
	var re *gcp.RunError
	if !errors.As(err, &re) || re.Result.Exit != 3 || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("a failing command: %v, want a RunError with exit 3 and its stderr", err)
	}
	_, err = host.Run(ctx, "/no/such/binary")
	if !errors.As(err, &re) || re.Result.Error == "" {
		t.Fatalf("a command that cannot start: %v", err)
	}
	// 300 kB of output travels in chunks.
	out, err = host.Run(ctx, "sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x")
	if err != nil || len(out) != 300000 || strings.Trim(out, "x") != "" {
		t.Fatalf("large output: %d bytes, %v", len(out), err)
	}
	// Commands at once: each metadata update is locked by the fingerprint and retried.
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			out, err := host.Run(ctx, "echo", fmt.Sprint(i))
			if err == nil && out != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("job %d answered %q", i, out)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	// What is read is removed: no job items, and the agent drops the results.
	ic, err := compute.NewInstancesRESTClient(ctx, option.WithEndpoint(url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	inst, err := ic.Get(ctx, &computepb.GetInstanceRequest{Project: "test-project", Zone: zone, Instance: vm})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range inst.GetMetadata().GetItems() {
		if strings.HasPrefix(it.GetKey(), agent.JobPrefix) {
			t.Errorf("job item %s left in the metadata", it.GetKey())
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		attrs, err := c.GuestAttributes(ctx, zone, vm, "reachgate/")
		if err != nil {
			t.Fatal(err)
		}
		if len(attrs) == 1 && attrs[agent.ReadyKey] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest attributes left: %d (want only %s)", len(attrs), agent.ReadyKey)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ga, err := ic.GetGuestAttributes(ctx, &computepb.GetGuestAttributesInstanceRequest{Project: "test-project", Zone: zone, Instance: vm,
		VariableKey: proto.String("reachgate/ready")})
	if err != nil || !strings.Contains(ga.GetVariableValue(), `"pid"`) {
		t.Fatalf("getGuestAttributes variableKey: %v %v", ga, err)
	}

	// setMetadata with a stale fingerprint is refused with 412, as GCE refuses it.
	op, err := ic.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: "test-project", Zone: zone, Instance: vm,
		MetadataResource: &computepb.Metadata{Fingerprint: proto.String("c3RhbGUhIQ=="), Items: []*computepb.Items{{Key: proto.String("x"), Value: proto.String("y")}}}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if !gcp.IsPreconditionFailed(err) {
		t.Fatalf("a stale fingerprint: %v, want 412", err)
	}
	// A reset of an instance the in-process lab has no namespace for fails in its operation.
	op, err = ic.Reset(ctx, &computepb.ResetInstanceRequest{Project: "test-project", Zone: zone, Instance: vm})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err == nil {
		t.Fatal("reset without a namespace succeeded")
	}
}
