package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"k8s.io/client-go/rest"

	"reachgate/framework/cloud"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
)

// The gcp provider: a topology provisioned in a project (Provision), its hosts reached through
// the agent, torn down by run. Its configuration is the environment, as the harness's flags
// pass it on (the CLI's --gcp-project, --gcp-region and --gcp-lab are its twins).
const (
	ProjectEnv   = "REACHGATE_GCP_PROJECT"
	RegionEnv    = "REACHGATE_GCP_REGION"
	LabEnv       = "REACHGATE_GCP_LAB"
	RunEnv       = "REACHGATE_GCP_RUN"
	AgentURLEnv  = "REACHGATE_GCP_AGENT_URL"
	AgentHashEnv = "REACHGATE_GCP_AGENT_SHA256"
	// ThirdPartyEnv chooses, with a bare lab, who plays the third-party cloud: "lab" (the
	// default: the lab's third-party side) or "stand-in" (a VPC of the project joined by an
	// HA VPN pair, as on Google).
	ThirdPartyEnv = "REACHGATE_GCP_THIRD_PARTY"
)

// StandIn as REACHGATE_GCP_THIRD_PARTY makes the third-party cloud a stand-in VPC of the
// project against a bare lab too.
const StandIn = "stand-in"

func init() {
	provider.Register("gcp", func() (provider.Provider, error) { return Provider{}, nil })
}

// Provider provisions topologies in a GCP project: Google's (REACHGATE_GCP_PROJECT, with the
// agent at REACHGATE_GCP_AGENT_URL) or a bare lab's API (REACHGATE_GCP_LAB).
type Provider struct{}

// Name implements provider.Provider.
func (Provider) Name() string { return "gcp" }

// runName is the run of an environment: REACHGATE_GCP_RUN, else the environment's name made
// a valid run name.
func runName(name string) string {
	if r := os.Getenv(RunEnv); r != "" {
		return r
	}
	r := lowerDashes(name)
	if r == "" || r[0] < 'a' || r[0] > 'z' {
		r = "r" + r
	}
	if len(r) > 20 {
		r = strings.TrimRight(r[:20], "-")
	}
	return r
}

// Provision implements provider.Provider: the topology into the project, every VM with the
// agent. A failed or interrupted Provision tears down what it made before it returns.
func (Provider) Provision(ctx context.Context, spec provider.Spec) (provider.Environment, error) {
	t, err := topology.Parse(spec.Source, spec.Data)
	if err != nil {
		return nil, err
	}
	log := spec.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Environment{topo: t, run: runName(spec.Name), log: log}
	if err := ValidRun(e.run); err != nil {
		return nil, fmt.Errorf("gcp provider: %w (set %s)", err, RunEnv)
	}
	o := ProvisionOptions{Run: e.run, Log: logWriter{log}, ThirdPartyRegion: os.Getenv(RegionEnv)}
	if name := os.Getenv(LabEnv); name != "" {
		// A bare lab: its API is the project, its third-party side the third-party cloud.
		// "new" brings one up for this environment (and removes it in Teardown).
		lp, err := provider.Get("lab")
		if err != nil {
			return nil, fmt.Errorf("gcp provider: %s=%s: %w", LabEnv, name, err)
		}
		if name == NewLab {
			e.ownLab = true
			e.lab, err = lp.Provision(ctx, provider.Spec{Name: bareLabName(spec.Name), Source: spec.Source, Data: spec.Data, Log: log, Bare: true})
		} else {
			e.lab, err = provider.Attach(ctx, lp, name, log)
		}
		if err != nil {
			return nil, fmt.Errorf("gcp provider: %s=%s: %w", LabEnv, name, err)
		}
		api, ok := e.lab.(provider.GCPAPI)
		src, ok2 := e.lab.(provider.AgentSource)
		if !ok || !ok2 {
			return nil, fmt.Errorf("gcp provider: lab %s serves no GCP API or agent", name)
		}
		if e.access, err = api.GCPAPI(ctx); err != nil {
			return nil, err
		}
		if o.AgentURL, o.AgentSHA256, err = src.AgentSource(ctx); err != nil {
			return nil, err
		}
		switch tp := os.Getenv(ThirdPartyEnv); tp {
		case "", "lab":
			o.ExternalThirdParty = true
			if pi, ok := e.lab.(provider.PartnerInterconnect); ok {
				o.Partner = pi.ConnectPartner
			}
		case StandIn:
			// As on Google: the third-party VPCs and their hosts are the project's.
		default:
			err = fmt.Errorf("gcp provider: %s=%q: choose lab or %s", ThirdPartyEnv, tp, StandIn)
			if e.ownLab {
				err = errors.Join(err, e.lab.Teardown(context.WithoutCancel(ctx)))
			}
			return nil, err
		}
	} else {
		e.access.Project = os.Getenv(ProjectEnv)
		o.AgentURL, o.AgentSHA256 = os.Getenv(AgentURLEnv), os.Getenv(AgentHashEnv)
		if e.access.Project == "" || o.AgentURL == "" || o.AgentSHA256 == "" {
			return nil, fmt.Errorf("gcp provider: set %s (the project) with %s and %s (the agent binary the VMs fetch), or %s (a lab started with 'reachgate lab up --bare')",
				ProjectEnv, AgentURLEnv, AgentHashEnv, LabEnv)
		}
	}
	if e.cloud, err = New(ctx, Config{Project: e.access.Project, Endpoint: e.access.Endpoint, Options: e.access.Options, Timeout: 10 * time.Minute}); err != nil {
		if e.ownLab {
			err = errors.Join(err, e.lab.Teardown(context.WithoutCancel(ctx)))
		}
		return nil, err
	}
	e.agentURL, e.agentSHA256, e.standIn = o.AgentURL, o.AgentSHA256, !o.ExternalThirdParty
	log.Info("gcp provider: provisioning", "project", e.access.Project, "run", e.run, "topology", spec.Source)
	if e.prov, err = e.cloud.Provision(ctx, t, o); err != nil {
		// Also on Ctrl-C: what was made goes before the error is returned.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		return nil, errors.Join(err, e.Teardown(cctx))
	}
	for _, n := range e.prov.Notes {
		log.Info("gcp provider: " + n)
	}
	if cl := e.prov.Cluster; cl != nil {
		e.cloud.cfg.Location, e.cloud.cfg.Cluster = cl.Location, cl.Name
		if err := e.describeCluster(ctx); err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
			defer cancel()
			return nil, errors.Join(err, e.Teardown(cctx))
		}
	}
	log.Info("gcp provider: provisioned", "run", e.run, "vms", len(e.prov.Hosts), "seconds", fmt.Sprintf("%.1f", e.prov.Took.Seconds()),
		"api_calls", e.cloud.Calls.String())
	if _, ok := e.lab.(provider.Explainer); ok {
		return &labProject{e}, nil
	}
	return e, nil
}

// describeCluster reads the provisioned cluster (clusters.get) and its node VMs: the
// environment's topology is the file's with its node hosts replaced, in order, by GKE's node
// VMs (named as GKE named them, which are the Kubernetes node names, at the addresses GKE gave
// them).
func (e *Environment) describeCluster(ctx context.Context) error {
	d, err := e.cloud.Cluster(ctx)
	if err != nil {
		return err
	}
	ips := map[string]netip.Addr{}
	if err := e.cloud.eachInstance(ctx, func(_ string, in *computepb.Instance) {
		for _, ni := range in.GetNetworkInterfaces() {
			if a, err := netip.ParseAddr(ni.GetNetworkIP()); err == nil {
				ips[in.GetName()] = a
			}
		}
	}); err != nil {
		return err
	}
	vms := e.prov.Cluster.Nodes
	if len(vms) == 0 {
		return fmt.Errorf("gcp provider: cluster %s has no node VMs (label goog-k8s-cluster-name=%s)", d.Name, d.Name)
	}
	t := *e.topo
	t.Hosts = nil
	var template *topology.Machine
	for _, h := range e.topo.Hosts {
		if h.Role != topology.RoleNode {
			t.Hosts = append(t.Hosts, h)
		} else if template == nil {
			template = h
		}
	}
	if template == nil {
		// A topology that lists no node hosts: the nodes sit in the cluster's subnet.
		template = &topology.Machine{Role: topology.RoleNode}
		if c := e.topo.Cluster; c != nil {
			template.VPC, template.Subnet = c.VPC, c.Subnet
			if s := e.topo.Network(c.VPC).Subnet(c.Subnet); s != nil {
				template.Region = s.Region
			}
		}
	}
	e.nodeVMs = map[string]bool{}
	for _, vm := range vms {
		n := *template
		n.Name, n.IP = vm, ips[vm]
		t.Hosts = append(t.Hosts, &n)
		e.nodeVMs[vm] = true
	}
	if e.topo.Cluster != nil {
		cl := *e.topo.Cluster
		cl.Nodes = slices.Clone(vms)
		// GKE names its peering: the topology's GKE peering link is that one.
		if cl.Peering != "" && d.PeeringName != "" && cl.Peering != d.PeeringName {
			t.Links = slices.Clone(t.Links)
			for i, l := range t.Links {
				if l.Name == cl.Peering {
					c := *l
					c.Name = d.PeeringName
					t.Links[i] = &c
				}
			}
			cl.Peering = d.PeeringName
		}
		t.Cluster = &cl
	}
	d.Nodes = slices.Clone(vms)
	e.topo, e.cluster = &t, d
	return nil
}

// Environment is a provisioned topology in a project.
type Environment struct {
	topo   *topology.Topology
	run    string
	log    *slog.Logger
	cloud  *Cloud
	prov   *Provisioned
	access provider.APIAccess
	// lab is the bare lab whose API is the project (nil against Google); ownLab when this
	// environment brought it up (REACHGATE_GCP_LAB=new).
	lab    provider.Environment
	ownLab bool
	// standIn is true when the third-party VPCs are the project's (on Google, or with
	// REACHGATE_GCP_THIRD_PARTY=stand-in).
	standIn bool
	// agentURL and agentSHA256 are where the run's VMs fetched reachgate's agent.
	agentURL, agentSHA256 string
	// cluster is the provisioned cluster as described; nodeVMs are its node VMs, the
	// topology's node hosts.
	cluster cloud.ClusterDescription
	nodeVMs map[string]bool
}

// NewLab as REACHGATE_GCP_LAB brings up a bare lab of the topology for the environment.
const NewLab = "new"

// bareLabName names the bare lab an environment brings up: its own name, apart from a lab
// provider's environment of the same name.
func bareLabName(name string) string {
	if len(name) > 16 {
		name = strings.TrimRight(name[:16], "-")
	}
	return name + "-gcp"
}

var (
	_ provider.Environment  = (*Environment)(nil)
	_ provider.GCPAPI       = (*Environment)(nil)
	_ provider.AgentSource  = (*Environment)(nil)
	_ provider.CloudAccess  = (*Environment)(nil)
	_ provider.KubeAdmin    = (*Environment)(nil)
	_ provider.PodKiller    = (*Environment)(nil)
	_ provider.ProjectNames = (*Environment)(nil)

	_ provider.ProjectThirdParty = (*Environment)(nil)
)

// ThirdPartyInProject implements provider.ProjectThirdParty.
func (e *Environment) ThirdPartyInProject() bool { return e.standIn }

// ProjectName implements provider.ProjectNames: rg-<run>-<name>.
func (e *Environment) ProjectName(name string) string { return ResourceName(e.run, name) }

// Cloud implements provider.CloudAccess: the project through the official clients in the
// topology's names (projectCloud), the run's cluster its Cluster.
func (e *Environment) Cloud() provider.Cloud { return projectCloud{Cloud: e.cloud, e: e} }

// AdminConfig implements provider.KubeAdmin. Against a bare lab the cluster's API server is
// reached as the lab reaches it, from a GKE node; on Google the private endpoint is not
// reachable from the workstation, and the harness does not yet open a way there.
func (e *Environment) AdminConfig() (*rest.Config, error) {
	if ka, ok := e.lab.(provider.KubeAdmin); ok {
		return ka.AdminConfig()
	}
	return nil, fmt.Errorf("gcp provider: run %s: no administrator access to the private cluster %s from this workstation on Google (the suites that need it run against a bare lab, %s)",
		e.run, e.cluster.Name, LabEnv)
}

// KillPod implements provider.PodKiller through the bare lab, where a pod's processes are
// the lab's; on Google it is refused (no node access without an agent on GKE's nodes).
func (e *Environment) KillPod(ctx context.Context, namespace, name string) error {
	if pk, ok := e.lab.(provider.PodKiller); ok {
		return pk.KillPod(ctx, namespace, name)
	}
	return fmt.Errorf("gcp provider: run %s: killing pod %s/%s needs access to GKE's nodes, which run no reachgate agent", e.run, namespace, name)
}

// AgentSource implements provider.AgentSource: the agent the run's VMs fetched (the bare
// lab's binary, or REACHGATE_GCP_AGENT_URL and its hash on Google).
func (e *Environment) AgentSource(context.Context) (string, string, error) {
	return e.agentURL, e.agentSHA256, nil
}

// Topology implements provider.Environment.
func (e *Environment) Topology() *topology.Topology { return e.topo }

// Run is the run's name (every resource's prefix rg-<run>-).
func (e *Environment) Run() string { return e.run }

// Host implements provider.Environment: a VM of the run through its agent; with a bare lab,
// a host of the lab's third-party side as the lab reaches it.
func (e *Environment) Host(name string) (provider.Host, error) {
	if ph, ok := e.prov.Hosts[name]; ok {
		h := e.cloud.AgentHost(ph.Zone, ph.Instance)
		h.label = name
		return h, nil
	}
	if e.nodeVMs[name] {
		// A GKE node: a bare lab realizes it as a host; on Google a node runs no agent.
		if e.lab == nil {
			return nil, fmt.Errorf("gcp provider: GKE node %s is not reachable as a host on Google (it runs no reachgate agent)", name)
		}
		return e.lab.Host(name)
	}
	if e.lab != nil && e.lab.Topology().Host(name) != nil {
		return e.lab.Host(name)
	}
	return nil, fmt.Errorf("gcp provider: no VM for host %q in run %s", name, e.run)
}

// Cluster implements provider.Environment: the provisioned cluster (empty without one), its
// nodes named as the topology's node hosts.
func (e *Environment) Cluster() cloud.ClusterDescription { return e.cluster }

// GCPAPI implements provider.GCPAPI.
func (e *Environment) GCPAPI(context.Context) (provider.APIAccess, error) { return e.access, nil }

// Teardown implements provider.Environment: everything of the run, in dependency order.
func (e *Environment) Teardown(ctx context.Context) error {
	err := e.cloud.Teardown(ctx, e.run, logWriter{e.log})
	if left, ferr := e.cloud.FindLeftovers(ctx, JanitorOptions{Run: e.run}); ferr == nil && len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("gcp provider: %d resources of run %s left after teardown (reachgate gcp janitor removes them)", len(left), e.run))
	}
	e.log.Info("gcp provider: API calls of the run, provision to teardown", "run", e.run, "api_calls", e.cloud.Calls.String())
	err = errors.Join(err, e.cloud.Close())
	if e.ownLab {
		err = errors.Join(err, e.lab.Teardown(ctx))
	}
	return err
}

// logWriter writes each line to a slog logger.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = logWriter{}

// labProject is the environment in a bare lab's project: it also explains reachability with
// the lab's model of that project (on Google, Connectivity Tests would; the harness does not
// run them), in the topology's names.
type labProject struct{ *Environment }

var (
	_ provider.Explainer            = labProject{}
	_ provider.DNSEndpointExplainer = labProject{}
)

// Explain implements provider.Explainer.
func (p labProject) Explain(from string, to netip.AddrPort) (bool, string, error) {
	ok, reason, err := p.lab.(provider.Explainer).Explain(p.instance(from), to)
	return ok, p.topologyNames(reason), err
}

// ExplainDNSEndpoint implements provider.DNSEndpointExplainer where the lab has it.
func (p labProject) ExplainDNSEndpoint(from string) (bool, string, error) {
	x, ok := p.lab.(provider.DNSEndpointExplainer)
	if !ok {
		return false, "", fmt.Errorf("gcp provider: lab of run %s cannot explain the DNS-based endpoint", p.run)
	}
	ok, reason, err := x.ExplainDNSEndpoint(p.instance(from))
	return ok, p.topologyNames(reason), err
}

// instance is a host as the lab knows it: the run's VM for a topology host, the name itself
// for GKE's node VMs and the lab's third-party hosts, else the host's address (the control
// plane, which the lab names as GKE's master VPC).
func (p labProject) instance(host string) string {
	if ph, ok := p.prov.Hosts[host]; ok {
		return ph.Instance
	}
	if p.nodeVMs[host] || p.lab.Topology().Host(host) != nil {
		return host
	}
	if h := p.topo.Host(host); h != nil {
		return h.IP.String()
	}
	return host
}

// topologyNames turns the run's project names in a model's text back into the topology's.
func (p labProject) topologyNames(s string) string {
	return strings.ReplaceAll(s, NamePrefix+p.run+"-", "")
}
