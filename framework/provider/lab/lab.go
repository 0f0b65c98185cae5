// Package lab is the provider that realizes topologies on this machine with the local lab.
package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"log/slog"
	"net"
	"net/netip"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"reachgate/framework/cloud"
	"reachgate/framework/provider"
	"reachgate/framework/selfbin"
	"reachgate/framework/topology"
	"reachgate/lab"
	"reachgate/lab/binaries"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/controlplane"
	"reachgate/lab/gke"
	"reachgate/lab/netns"
)

func init() {
	provider.Register("lab", func() (provider.Provider, error) { return Provider{}, nil })
}

// Provider provisions the local lab.
type Provider struct{}

// Name implements provider.Provider.
func (Provider) Name() string { return "lab" }

// Provision implements provider.Provider.
func (Provider) Provision(ctx context.Context, spec provider.Spec) (provider.Environment, error) {
	self, err := selfbin.Path(ctx, spec.Log)
	if err != nil {
		return nil, err
	}
	l, err := lab.Up(ctx, lab.Options{Name: spec.Name, Source: spec.Source, Data: spec.Data, Self: self, Log: spec.Log, Bare: spec.Bare})
	if err != nil {
		return nil, err
	}
	return newEnvironment(l, self, spec.Log), nil
}

func newEnvironment(l *lab.Lab, self string, log *slog.Logger) *Environment {
	env := &Environment{lab: l, self: self, log: log}
	if src, err := binaries.SourceDir(); err == nil {
		env.version, _, _ = binaries.Versions(src)
	}
	return env
}

// Environment is a lab as a provider.Environment.
type Environment struct {
	lab     *lab.Lab
	self    string
	version string
	log     *slog.Logger
	api     api

	agentOnce          sync.Once
	agentURL, agentSum string
	agentErr           error
}

// Lab exposes the underlying lab (for lab-only abilities).
func (e *Environment) Lab() *lab.Lab { return e.lab }

// Topology implements provider.Environment.
func (e *Environment) Topology() *topology.Topology { return e.lab.Topology }

// Cluster implements provider.Environment: the lab cloud's description plus the version the
// lab's API server was built at.
func (e *Environment) Cluster() cloud.ClusterDescription {
	d, err := (labcloud.Lab{L: e.lab}).Cluster(context.Background())
	if err != nil {
		return cloud.ClusterDescription{}
	}
	d.CurrentMasterVersion = e.version
	return d
}

// Prioritize implements provider.Prioritizer: every process of the lab (found by the
// environment mark its daemons carry, so also those started while it holds) and the extra
// ones.
func (e *Environment) Prioritize(nice int, extra ...int) (func(), int) {
	return e.lab.State.Boost(nice, extra...)
}

// Teardown implements provider.Environment.
func (e *Environment) Teardown(ctx context.Context) error {
	return errors.Join(e.stopAPI(ctx), netns.Down(ctx, e.lab.State, e.log))
}

// Host implements provider.Environment.
func (e *Environment) Host(name string) (provider.Host, error) {
	ns, err := e.lab.Namespace(name)
	if err != nil {
		return nil, err
	}
	return &Host{env: e, name: name, ns: ns}, nil
}

// Operator implements provider.Operator: the lab's operator position, where gcloud talks to
// the lab's GCP API.
func (e *Environment) Operator() (provider.Host, error) {
	if _, _, ok := e.lab.APIEndpoint(); !ok {
		return nil, fmt.Errorf("lab %s serves no GCP API (brought up without the reachgate binary)", e.lab.State.Name)
	}
	return e.Host(lab.OperatorHost)
}

// Host is a lab host.
type Host struct {
	env  *Environment
	name string
	ns   string
}

// Name implements provider.Host.
func (h *Host) Name() string { return h.name }

// DialContext implements provider.Host: the socket is created in the host's namespace, and a
// name is resolved by the host's VPC resolver (where the lab gives its VPC one), as the VM
// itself would resolve it.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := netns.Dialer(h.ns)
	name, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	resolver, ok := h.env.lab.ResolverOf(h.name)
	if _, perr := netip.ParseAddr(name); perr == nil || !ok {
		return dial(ctx, network, addr)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial(ctx, network, resolver)
	}}
	ips, err := r.LookupNetIP(ctx, "ip4", name)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		c, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// Listen implements provider.Listener.
func (h *Host) Listen(_ context.Context, network, addr string) (net.Listener, error) {
	return netns.Listen(h.ns, network, addr)
}

// Run implements provider.Host.
func (h *Host) Run(ctx context.Context, argv ...string) (string, error) {
	cmd, err := h.env.lab.Command(ctx, h.name, argv...)
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s at %s: %w: %s", strings.Join(argv, " "), h.name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Kubectl implements provider.Host with reachgate's embedded kubectl.
func (h *Host) Kubectl(ctx context.Context, args ...string) (string, error) {
	return h.Run(ctx, append([]string{h.env.self, "kubectl"}, args...)...)
}

// Explain implements provider.Explainer with the lab's network model.
func (e *Environment) Explain(from string, to netip.AddrPort) (bool, string, error) {
	t, err := e.lab.Explain(from, to)
	return t.Reachable, t.Reason, err
}

// ExplainDNSEndpoint implements provider.DNSEndpointExplainer.
func (e *Environment) ExplainDNSEndpoint(from string) (bool, string, error) {
	v, err := e.lab.ExplainDNSEndpoint(from)
	return v.Reachable, v.Reason, err
}

// LogTails implements provider.LogSource with the logs of the lab's processes.
func (e *Environment) LogTails(lines int) map[string]string {
	out := map[string]string{}
	for _, p := range e.lab.State.Processes {
		out[p.Name] = controlplane.Tail(p.Log, lines)
	}
	return out
}

// SetImpairment implements provider.WANEmulator.
func (e *Environment) SetImpairment(ctx context.Context, link, profile string, overrides ...string) error {
	return e.lab.SetImpairment(ctx, e.self, link, profile, overrides...)
}

// TunnelsCarrying implements provider.TunnelFaults.
func (e *Environment) TunnelsCarrying(ctx context.Context, host string, dst netip.Addr) ([]string, error) {
	return e.lab.TunnelsCarrying(ctx, host, dst)
}

// SetTunnelUnderlay implements provider.TunnelFaults.
func (e *Environment) SetTunnelUnderlay(ctx context.Context, tunnel string, up bool) error {
	return e.lab.SetTunnelUnderlay(ctx, tunnel, up)
}

// AdminConfig implements provider.KubeAdmin: connections start at the first GKE node, of the
// topology's cluster or of one the lab's container API created.
func (e *Environment) AdminConfig() (*rest.Config, error) {
	if err := e.lab.Refresh(); err != nil {
		return nil, err
	}
	if err := e.lab.LoadCP(); err != nil {
		return nil, err
	}
	var c *topology.GKECluster
	if e.lab.Current != nil {
		c = e.lab.Current.Cluster
	}
	if c == nil || e.lab.CP == nil || len(c.Nodes) == 0 {
		return nil, fmt.Errorf("lab %s has no cluster", e.lab.State.Name)
	}
	ns, err := e.lab.Namespace(c.Nodes[0])
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.lab.CP.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.Dial = netns.Dialer(ns)
	cfg.Timeout = 15 * time.Second
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// KillPod implements provider.PodKiller: SIGKILL to every process of the pod (all of a
// container's processes, as when its cgroup is killed).
func (e *Environment) KillPod(ctx context.Context, namespace, name string) error {
	if err := e.lab.State.Reload(); err != nil {
		return err
	}
	prefix := gke.PodProcessPrefix(namespace, name)
	killed := 0
	for _, p := range e.lab.State.Processes {
		if strings.HasPrefix(p.Name, prefix) && p.Running() {
			n, err := netns.KillAll(ctx, p.Namespace)
			if err != nil {
				return fmt.Errorf("kill %s: %w", p.Name, err)
			}
			killed += n
		}
	}
	if killed == 0 {
		return fmt.Errorf("pod %s/%s has no running container in lab %s", namespace, name, e.lab.State.Name)
	}
	return nil
}

// podNamespace is the network namespace of a pod of the lab.
func (e *Environment) podNamespace(namespace, pod string) string {
	return gke.PodNetns(e.lab.State.Name, namespace, pod)
}

// ListenInPod implements provider.PodNetwork.
func (e *Environment) ListenInPod(namespace, pod, addr string) (net.Listener, error) {
	return netns.Listen(e.podNamespace(namespace, pod), "tcp", addr)
}

// RedirectInPod implements provider.PodNetwork with an nft output DNAT inside the pod.
func (e *Environment) RedirectInPod(ctx context.Context, namespace, pod string, dst, to netip.AddrPort) (func(context.Context) error, error) {
	ns := e.podNamespace(namespace, pod)
	table := fmt.Sprintf("rg_redirect_%d", dst.Port())
	rules := fmt.Sprintf("add table ip %s\ndelete table ip %s\ntable ip %s {\n chain out {\n  type nat hook output priority -100; policy accept;\n"+
		"  ip daddr %s tcp dport %d dnat to %s\n }\n}\n", table, table, table, dst.Addr(), dst.Port(), to)
	if out, err := netns.Nft(ctx, ns, rules); err != nil {
		return nil, fmt.Errorf("redirect in pod %s/%s: %w: %s", namespace, pod, err, out)
	}
	return func(ctx context.Context) error {
		out, err := netns.Nft(ctx, ns, fmt.Sprintf("delete table ip %s\n", table))
		if err != nil && !strings.Contains(out, "No such file") {
			return fmt.Errorf("undo redirect in pod %s/%s: %w: %s", namespace, pod, err, out)
		}
		return nil
	}, nil
}

// PlaceFile implements provider.FilePlacer: files live in the host's directory of the lab state.
func (h *Host) PlaceFile(_ context.Context, name string, data []byte) (string, error) {
	if strings.ContainsAny(name, "/\\") || name == "" || name[0] == '.' {
		return "", fmt.Errorf("file name %q: use a plain name", name)
	}
	dir := h.env.lab.State.Path("hosts", h.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, data, 0o600)
}

// ManagedService implements provider.ManagedServices: a managed-service host's redis instance
// as the lab runs it.
func (e *Environment) ManagedService(_ context.Context, host string) (cloud.ManagedService, error) {
	return e.lab.ManagedService(host)
}

// Attach implements provider.Attacher: it wraps a lab that is already up, the only one when
// name is empty. Kubectl at hosts runs the reachgate binary of selfbin.Path.
func (Provider) Attach(ctx context.Context, name string, log *slog.Logger) (provider.Environment, error) {
	n, err := lab.Resolve(name)
	if err != nil {
		return nil, err
	}
	l, err := lab.Open(n)
	if err != nil {
		return nil, err
	}
	self, err := selfbin.Path(ctx, log)
	if err != nil {
		return nil, err
	}
	return newEnvironment(l, self, log), nil
}

// Inventory implements provider.Inventory: the lab's namespaces and running processes by name.
func (e *Environment) Inventory() ([]string, error) {
	if err := e.lab.State.Reload(); err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range e.lab.State.Namespaces {
		out = append(out, "namespace "+ns)
	}
	for _, p := range e.lab.State.Processes {
		if p.Running() {
			out = append(out, "process "+p.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// The lab has every ability; a missing method fails the build here, not a suite at run time.
var (
	_ provider.Attacher        = Provider{}
	_ provider.Environment     = (*Environment)(nil)
	_ provider.Explainer       = (*Environment)(nil)
	_ provider.LogSource       = (*Environment)(nil)
	_ provider.CloudAccess     = (*Environment)(nil)
	_ provider.WANEmulator     = (*Environment)(nil)
	_ provider.TunnelFaults    = (*Environment)(nil)
	_ provider.KubeAdmin       = (*Environment)(nil)
	_ provider.PodKiller       = (*Environment)(nil)
	_ provider.PodNetwork      = (*Environment)(nil)
	_ provider.Inventory       = (*Environment)(nil)
	_ provider.GCPAPI          = (*Environment)(nil)
	_ provider.ManagedServices = (*Environment)(nil)
	_ provider.Host            = (*Host)(nil)
	_ provider.Listener        = (*Host)(nil)
	_ provider.FilePlacer      = (*Host)(nil)
	_ provider.VPNCloud        = labcloud.Lab{}
	_ provider.EndpointCloud   = labcloud.Lab{}
	_ provider.Cloud           = labcloud.Lab{}
)
