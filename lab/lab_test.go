package lab_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"reachgate/lab"
	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

const seedPath = "../fixtures/topologies/seed.yaml"

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func upSeed(t *testing.T, name string) *lab.Lab {
	t.Helper()
	data, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := lab.Up(ctx, lab.Options{Name: name, Source: seedPath, Data: data, Self: roottest.Self(t), Log: testLog(t)})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if st, err := netns.LoadState(name); err == nil {
			_ = netns.Down(context.Background(), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}
	})
	return l
}

// ourNamespaces lists the namespaces that belong to the named lab.
func ourNamespaces(t *testing.T, name string) []string {
	t.Helper()
	all, err := netns.ListNamespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, netns.Prefix+name+"-") {
			out = append(out, n)
		}
	}
	return out
}

func TestUpServesControlPlaneAndDownRemovesAll(t *testing.T) {
	roottest.Require(t)
	const name = "it-seed"
	l := upSeed(t, name)
	ctx := context.Background()

	// One namespace per VPC and per host, and the operator's, where the GCP API listens.
	if got, want := len(ourNamespaces(t, name)), len(l.Topology.Networks)+len(l.Topology.Hosts)+1; got != want {
		t.Fatalf("got %d namespaces; want %d", got, want)
	}
	endpoint, opNS, ok := l.APIEndpoint()
	if !ok {
		t.Fatal("the lab serves no GCP API")
	}
	api := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: netns.Dialer(opNS)}}
	resp, err := api.Get(endpoint + "/compute/v1/projects/" + lab.Project(name) + "/global/networks")
	if err != nil {
		t.Fatalf("the GCP API in %s: %v", opNS, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("networks.list: HTTP %d", resp.StatusCode)
	}
	// What is set through the API outlives the API's process: kill it, `lab up` restarts it, and
	// the firewall rule inserted before is still there.
	rule := `{"name":"rg-test-deny","network":"gke","priority":900,"sourceRanges":["172.31.0.0/16"],"denied":[{"IPProtocol":"tcp","ports":["22"]}]}`
	resp, err = api.Post(endpoint+"/compute/v1/projects/"+lab.Project(name)+"/global/firewalls", "application/json", strings.NewReader(rule))
	if err != nil {
		t.Fatal(err)
	}
	var op struct{ Name, Status string }
	_ = json.NewDecoder(resp.Body).Decode(&op)
	resp.Body.Close()
	wait, err := api.Post(endpoint+"/compute/v1/projects/"+lab.Project(name)+"/global/operations/"+op.Name+"/wait", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(wait.Body).Decode(&op)
	wait.Body.Close()
	if op.Status != "DONE" {
		t.Fatalf("firewalls.insert: operation %+v", op)
	}
	for _, p := range l.State.Processes {
		if p.Name == lab.APIProcess {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			for p.Running() {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	l = upSeed(t, name)
	resp, err = api.Get(endpoint + "/compute/v1/projects/" + lab.Project(name) + "/global/firewalls/rg-test-deny")
	if err != nil {
		t.Fatalf("the GCP API after lab up restarted it: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the rule inserted before the API restarted: HTTP %d", resp.StatusCode)
	}
	if c, err := net.DialTimeout("tcp", lab.APIAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("the GCP API answers at %s in the host's namespace; it must listen only in the operator's", lab.APIAddr)
	}
	// The serving certificate is GKE-like: private endpoint and service IP as SANs.
	cert := l.CP.CA.Cert
	if !cert.IsCA {
		t.Fatalf("cluster CA is not a CA")
	}
	servingPEM, err := os.ReadFile(l.State.Path("controlplane", "pki", "apiserver.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(servingPEM)
	serving, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"192.168.32.34", "10.40.0.1", "kubernetes.default", "kubernetes.default.svc.cluster.local"} {
		if err := serving.VerifyHostname(host); err != nil {
			t.Errorf("serving certificate does not cover %s: %v", host, err)
		}
	}

	// Nodes are Ready with the topology's kubelet version, as seen from a node.
	node := l.Topology.Cluster.Nodes[0]
	ns, _ := l.Namespace(node)
	cs, err := l.Clientset(ns)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes from %s: %v", node, err)
	}
	if len(nodes.Items) != len(l.Topology.Cluster.Nodes) {
		t.Fatalf("got %d nodes; want %d", len(nodes.Items), len(l.Topology.Cluster.Nodes))
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready || n.Status.NodeInfo.KubeletVersion != "v1.37.2" {
			t.Errorf("node %s: ready=%v version=%q; want Ready v1.37.2", n.Name, ready, n.Status.NodeInfo.KubeletVersion)
		}
	}

	// ServiceAccount tokens are signed (TokenRequest works) and RBAC is enforced.
	sa, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp := int64(600)
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa.Name, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	cfg := &rest.Config{Host: l.CP.URL(), BearerToken: tr.Status.Token, Dial: netns.Dialer(ns),
		TLSClientConfig: rest.TLSClientConfig{CAData: l.CP.CA.CertPEM}, Timeout: 10 * time.Second}
	saClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = saClient.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("ServiceAccount without RBAC listing nodes: got %v; want Forbidden", err)
	}

	// Up again is a no-op on a live lab: same processes.
	before := l.State.Processes
	l2, err := lab.Up(ctx, lab.Options{Name: name, Source: seedPath, Data: mustRead(t, seedPath), Log: testLog(t)})
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if len(l2.State.Processes) != len(before) || l2.State.Processes[0].PID != before[0].PID {
		t.Fatalf("second up changed the processes: %+v -> %+v", before, l2.State.Processes)
	}

	if err := l.Down(ctx, testLog(t)); err != nil {
		t.Fatal(err)
	}
	if left := ourNamespaces(t, name); len(left) > 0 {
		t.Errorf("namespaces left after down: %v", left)
	}
	for _, p := range before {
		if p.Running() {
			t.Errorf("process %s (pid %d) still running after down", p.Name, p.PID)
		}
	}
	if _, err := os.Stat(l.State.Dir); !os.IsNotExist(err) {
		t.Errorf("state dir %s still exists after down (%v)", l.State.Dir, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// startUp runs `reachgate lab up` as a child and returns once it has started etcd.
func startUp(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(roottest.Self(t), "lab", "up", "--name", name, "-f", seedPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	var seen strings.Builder
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(seen.String(), "kube-apiserver started") {
		n, err := stderr.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("lab up ended before starting the control plane:\n%s", seen.String())
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	return cmd
}

func TestInterruptedUpLeavesNothing(t *testing.T) {
	roottest.Require(t)
	const name = "it-int"
	cmd := startUp(t, name)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if left := ourNamespaces(t, name); len(left) > 0 {
		t.Errorf("namespaces left after Ctrl-C during up: %v", left)
	}
	if _, err := os.Stat(netns.LabDir(name)); !os.IsNotExist(err) {
		t.Errorf("state dir left after Ctrl-C during up (%v)", err)
	}
}

func TestGCRemovesKilledLab(t *testing.T) {
	roottest.Require(t)
	const name = "it-kill"
	cmd := startUp(t, name)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	st, err := netns.LoadState(name)
	if err != nil {
		t.Fatalf("a killed up should leave its state for gc: %v", err)
	}
	if st.Alive() {
		t.Fatalf("a lab whose provisioning process died must not count as alive")
	}
	// This lab only: other labs on the machine are not the test's to collect.
	if err := netns.GCLab(context.Background(), name, testLog(t)); err != nil {
		t.Fatal(err)
	}
	if left := ourNamespaces(t, name); len(left) > 0 {
		t.Errorf("namespaces left after gc: %v", left)
	}
	for _, p := range st.Processes {
		if p.Running() {
			t.Errorf("process %s (pid %d) still running after gc", p.Name, p.PID)
		}
	}
}
