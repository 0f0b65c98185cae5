// Package provider defines what suites provision against: a Provider realizes a topology
// as an Environment of hosts; optional abilities are separate interfaces.
package provider

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
)

// Spec says what to provision.
type Spec struct {
	// Name identifies the environment (the lab name on the lab provider).
	Name string
	// Source names the topology and Data holds its YAML.
	Source string
	Data   []byte
	Log    *slog.Logger
	// Bare asks for the topology's third-party side only, with an empty project behind the
	// environment's GCP API (the lab: `lab up --bare`), for the gcp provider to build the rest.
	Bare bool
}

// Provider realizes topologies.
type Provider interface {
	Name() string
	Provision(ctx context.Context, spec Spec) (Environment, error)
}

// Environment is a provisioned topology.
type Environment interface {
	Topology() *topology.Topology
	Host(name string) (Host, error)
	// Cluster describes the private cluster's control plane.
	Cluster() cloud.ClusterDescription
	Teardown(ctx context.Context) error
}

// Host is a machine of the environment; probes run at its network position.
type Host interface {
	Name() string
	// DialContext opens a connection from the host.
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	// Run runs a command at the host and returns its stdout; a failure carries stderr.
	Run(ctx context.Context, argv ...string) (string, error)
	// Kubectl runs kubectl at the host with the host's kubeconfig.
	Kubectl(ctx context.Context, args ...string) (string, error)
}

// Listener is the ability to accept connections at a host (for reachability checks
// towards it).
type Listener interface {
	Listen(ctx context.Context, network, addr string) (net.Listener, error)
}

// Factory makes a provider.
type Factory func() (Provider, error)

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// Register adds a provider under a name; providers register themselves in init.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	factories[name] = f
}

// Get returns the named provider.
func Get(name string) (Provider, error) {
	mu.Lock()
	f, ok := factories[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("provider %q is not supported; supported: %s", name, strings.Join(Names(), ", "))
	}
	return f()
}

// Names lists the registered providers.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for n := range factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Explainer is the ability to say, from the network model, whether a host reaches an
// address and why (the lab; real GCP has Connectivity Tests instead). With a port (not 0) it
// judges a TCP connection: firewall rules, authorized networks, load balancer admission.
type Explainer interface {
	Explain(from string, to netip.AddrPort) (reachable bool, reason string, err error)
}

// DNSEndpointExplainer is the ability to say whether a host reaches the cluster's DNS-based
// endpoint, and why not (the missing DNS mapping, route or setting).
type DNSEndpointExplainer interface {
	ExplainDNSEndpoint(from string) (reachable bool, reason string, err error)
}

// Prioritizer is the ability to raise the CPU priority of the environment's own processes
// (and of the caller's, given as extra PIDs) while a spec measures time on a shared machine;
// restore puts them back. It reports how many threads it raised.
type Prioritizer interface {
	Prioritize(nice int, extra ...int) (restore func(), threads int)
}

// LogSource is the ability to hand over the tails of the environment's component logs
// (apiserver, etcd, …), attached to failing specs.
type LogSource interface {
	LogTails(lines int) map[string]string
}

// Attacher is the ability to attach to an environment that is already provisioned (a lab
// that is up; a GCP project's cluster), by name. An empty name asks the provider to pick the
// only environment there is, where it can tell; Teardown of the result removes the
// environment as if it had been provisioned in this process.
type Attacher interface {
	Attach(ctx context.Context, name string, log *slog.Logger) (Environment, error)
}

// Attach attaches to the named environment of p, or fails clearly when p cannot attach.
func Attach(ctx context.Context, p Provider, name string, log *slog.Logger) (Environment, error) {
	a, ok := p.(Attacher)
	if !ok {
		return nil, fmt.Errorf("provider %s cannot attach to an existing environment", p.Name())
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return a.Attach(ctx, name, log)
}
