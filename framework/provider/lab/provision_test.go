package lab

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/framework/provider/gcp"
	"reachgate/framework/topology"
	"reachgate/lab"
	"reachgate/lab/netns"
)

const vpcVMs = "../../../fixtures/topologies/vpc-vms.yaml"

// requireRootLab gates a test that brings a lab up: root and a built reachgate
// (REACHGATE_BIN), or a skip — a failure under REACHGATE_REQUIRE_ROOT_TESTS=1.
func requireRootLab(t *testing.T) string {
	t.Helper()
	strict := os.Getenv("REACHGATE_REQUIRE_ROOT_TESTS") == "1"
	if os.Geteuid() != 0 {
		if strict {
			t.Fatal("this test needs root (network namespaces) and REACHGATE_REQUIRE_ROOT_TESTS=1 forbids skipping it")
		}
		t.Skip("needs root (network namespaces)")
	}
	self := os.Getenv("REACHGATE_BIN")
	if _, err := os.Stat(self); self == "" || err != nil {
		if strict {
			t.Fatalf("REACHGATE_BIN=%q is not a built reachgate binary (run 'make build')", self)
		}
		t.Skip("set REACHGATE_BIN to a built reachgate binary (make build)")
	}
	return self
}

// bareLab brings up the third-party side of fixtures/topologies/vpc-vms.yaml, and returns
// the official clients on its API with the lab's agent.
func bareLab(t *testing.T, name string) (*lab.Lab, *Environment, *gcp.Cloud) {
	return bareLabOf(t, name, vpcVMs)
}

// bareLabOf is bareLab for the topology file at path.
func bareLabOf(t *testing.T, name, path string) (*lab.Lab, *Environment, *gcp.Cloud) {
	t.Helper()
	self := requireRootLab(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	l, err := lab.Up(ctx, lab.Options{Name: name, Source: path, Data: data, Self: self, Log: log, Bare: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if st, err := netns.LoadState(name); err == nil {
			_ = netns.Down(context.Background(), st, log)
		}
	})
	env := newEnvironment(l, self, log)
	access, err := env.GCPAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gcp.New(ctx, gcp.Config{Project: access.Project, Endpoint: access.Endpoint, Options: access.Options, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return l, env, c
}

// runNamespaces lists the lab's namespaces made for a run's resources.
func runNamespaces(t *testing.T, l *lab.Lab, run string) []string {
	t.Helper()
	all, err := netns.ListNamespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ns := range all {
		if strings.HasPrefix(ns, "rg-"+l.State.Name+"-") && strings.Contains(ns, "-"+gcp.NamePrefix+run+"-") {
			out = append(out, ns)
		}
	}
	return out
}

// The gcp provider builds a topology's GCP side into a bare lab through the official clients;
// the lab realizes it (namespaces, routes, the firewall), the VMs run the agent, and teardown
// leaves nothing.
func TestProvisionIntoBareLab(t *testing.T) {
	l, env, c := bareLab(t, "prov-t")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topo := l.Topology
	full, err := os.ReadFile(vpcVMs)
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Networks) != 1 || len(topo.Hosts) != 1 {
		t.Fatalf("the bare lab has %d VPCs and %d hosts, want the third-party side only", len(topo.Networks), len(topo.Hosts))
	}
	url, sum, err := env.AgentSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := topology.Parse(vpcVMs, full)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Provision(ctx, whole, gcp.ProvisionOptions{Run: "pt", ExternalThirdParty: true, AgentURL: url, AgentSHA256: sum, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("provision into the lab: %d VMs with their agents in %.2fs", len(p.Hosts), p.Took.Seconds())
	if _, ok := p.Hosts["tp-vm"]; ok {
		t.Error("the third-party VM was created in the project, though the lab has it")
	}
	rt, err := c.GetRouter(ctx, "rg-pt-app", "rg-pt-app-router")
	if err != nil || rt.ASN != 64514 || rt.Advertise.Mode != "CUSTOM" || len(rt.Advertise.Ranges) != 1 {
		t.Errorf("the Cloud Router: %+v, %v; want ASN 64514 advertising 192.168.32.32/28", rt, err)
	}
	if got := runNamespaces(t, l, "pt"); len(got) != 5 {
		t.Errorf("namespaces of the run: %v, want two VPCs' routers and three VMs", got)
	}
	serial, err := c.SerialPortOutput(ctx, p.Hosts["vm-a"].Zone, p.Hosts["vm-a"].Instance)
	if err != nil || !strings.Contains(serial, "reachgate agent started") {
		t.Errorf("vm-a's serial console: %q, %v; want the startup script's output", serial, err)
	}
	a := c.AgentHost(p.Hosts["vm-a"].Zone, p.Hosts["vm-a"].Instance)
	out, err := a.Run(ctx, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(out, " 10.10.0.10/") {
		t.Fatalf("vm-a's address: %q, %v", out, err)
	}
	// The firewall rule is realized: tcp:8080 from the subnet reaches vm-b (refused: nothing
	// listens), another port is dropped (the implied deny), the third party is not reachable.
	curl := func(url string) int {
		_, err := a.Run(ctx, "curl", "-s", "-m", "2", url)
		var re *gcp.RunError
		if errors.As(err, &re) {
			return re.Result.Exit
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if got := curl("http://10.10.0.11:8080/"); got != 7 {
		t.Errorf("vm-a -> vm-b:8080: curl exit %d, want 7 (refused: reachable, allowed by allow-web)", got)
	}
	if got := curl("http://10.10.0.11:9090/"); got != 28 {
		t.Errorf("vm-a -> vm-b:9090: curl exit %d, want 28 (timed out: dropped by the implied deny)", got)
	}
	// The peering is active from both sides: vm-a reaches db-vm's allowed port across it.
	if got := curl("http://10.30.0.5:5432/"); got != 7 {
		t.Errorf("vm-a -> db-vm:5432 across the peering: curl exit %d, want 7 (refused: reachable)", got)
	}
	pr, err := c.GetPeering(ctx, "rg-pt-db", "rg-pt-app-db")
	if err != nil || pr.Name != "rg-pt-app-db" {
		t.Errorf("the peering from db: %+v, %v", pr, err)
	}
	if err := c.Teardown(ctx, "pt", testWriter{t}); err != nil {
		t.Fatal(err)
	}
	left, err := c.FindLeftovers(ctx, gcp.JanitorOptions{})
	if err != nil || len(left) != 0 {
		t.Fatalf("after teardown: %v %v", left, err)
	}
	if got := runNamespaces(t, l, "pt"); len(got) != 0 {
		t.Errorf("namespaces left after teardown: %v", got)
	}
}

// A provision killed with SIGKILL halfway leaves resources behind; the janitor removes them.
func TestKilledProvisionJanitor(t *testing.T) {
	killedProvision(t, "prov-k", vpcVMs, "pk", "instance")
}

// The same with a cluster: killed once clusters.create was sent, the janitor deletes the
// cluster (and with it GKE's peering, master VPC, nodes and control plane) and the rest.
func TestKilledClusterProvisionJanitor(t *testing.T) {
	l := killedProvision(t, "prov-kc", vpcCluster, "pkc", "cluster")
	if err := l.State.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, pr := range l.State.Processes {
		if pr.Name == "etcd" || pr.Name == "kube-apiserver" || pr.Name == "gke" {
			t.Errorf("process %s (pid %d) still recorded after the janitor deleted the cluster", pr.Name, pr.PID)
		}
	}
	all, err := netns.ListNamespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range all {
		if strings.HasPrefix(ns, "rg-prov-kc-") && strings.Contains(ns, "gke-") {
			t.Errorf("namespace %s (GKE's master VPC or a node) left after the janitor", ns)
		}
	}
}

// killedProvision runs `gcp provision` of path into a bare lab, SIGKILLs it once a resource
// of kind exists, runs `gcp janitor` and checks that nothing of the run is left.
func killedProvision(t *testing.T, name, path, run, kind string) *lab.Lab {
	l, _, c := bareLabOf(t, name, path)
	self := os.Getenv("REACHGATE_BIN")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.Command(self, "gcp", "provision", "--gcp-lab", l.State.Name, "-f", path, "--run", run)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Halfway: once a resource of kind exists (a VM before its agent has announced itself).
	deadline := time.Now().Add(time.Minute)
	for {
		left, err := c.FindLeftovers(ctx, gcp.JanitorOptions{Run: run})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(left, func(l gcp.Leftover) bool { return l.Kind == kind }) {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no %s of the run after a minute: %v", kind, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	left, err := c.FindLeftovers(ctx, gcp.JanitorOptions{Run: run})
	if err != nil || len(left) == 0 {
		t.Fatalf("after the kill: %v %v, want leftovers", left, err)
	}
	t.Logf("killed provision left %d resources", len(left))
	j := exec.Command(self, "gcp", "janitor", "--gcp-lab", l.State.Name, "--older-than", "0s")
	if out, err := j.CombinedOutput(); err != nil {
		t.Fatalf("janitor: %v\n%s", err, out)
	}
	left, err = c.FindLeftovers(ctx, gcp.JanitorOptions{})
	if err != nil || len(left) != 0 {
		t.Fatalf("after the janitor: %v %v", left, err)
	}
	if got := runNamespaces(t, l, run); len(got) != 0 {
		t.Errorf("namespaces left after the janitor: %v", got)
	}
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
