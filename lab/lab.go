// Package lab provisions a topology on this machine: network namespaces routed as the
// network model computes, a real control plane in the master host, and Node objects for
// the GKE nodes. It owns and records everything it creates (see lab/netns).
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab/binaries"
	"reachgate/lab/controlplane"
	"reachgate/lab/netns"
)

// Options for Up.
type Options struct {
	Name string
	// Source names the topology (a file path, or "embedded:seed") and Data holds its text.
	Source string
	Data   []byte
	// Self is the reachgate binary; it runs the lab's kubelet emulation as a daemon.
	// Empty: node status is written once and not refreshed.
	Self string
	Log  *slog.Logger
	// Bare realizes only the topology's third-party side (ThirdPartySide): the project is
	// empty until the lab's GCP API is told to create VPCs, subnets and VMs.
	Bare bool
}

// Lab is a provisioned lab.
type Lab struct {
	State *netns.State
	// Topology is the file's; it names every namespace and interface. Current is the
	// topology as cloud operations changed it (Effective), and Model is computed from it.
	Topology *topology.Topology
	Current  *topology.Topology
	Cloud    *CloudState
	Model    *netmodel.Model
	Plan     *netns.Plan
	CP       *controlplane.ControlPlane // nil when the topology has no cluster
	// cloudStamp is cloud.json's modification time and size when Cloud was read (Refresh).
	cloudStamp cloudStamp
}

// Up provisions the lab, or returns it as it is when it is already up (restarting its GCP API
// and redis instances when only they exited). On failure or cancellation everything created so
// far is removed before Up returns.
func Up(ctx context.Context, opts Options) (l *Lab, err error) {
	log := opts.Log
	if err := netns.ValidName(opts.Name); err != nil {
		return nil, err
	}
	topo, err := topology.Parse(opts.Source, opts.Data)
	if err != nil {
		return nil, err
	}
	if opts.Bare {
		topo = topo.ThirdPartySide()
		if len(topo.Networks) == 0 {
			return nil, fmt.Errorf("%s: --bare keeps the third-party side only, and the topology has no VPC outside GCP", opts.Source)
		}
	}
	if old, err := netns.LoadState(opts.Name); err == nil {
		if old.Alive() && old.Phase == netns.PhaseUp {
			log.Info("lab already up", "lab", opts.Name)
			return Open(opts.Name)
		}
		if restartableDown(old, opts.Self != "") {
			l, err := Open(opts.Name)
			if err != nil {
				return nil, err
			}
			if err := l.restartDaemons(ctx, opts.Self, log); err != nil {
				return nil, err
			}
			return l, nil
		}
		log.Info("removing the remains of an earlier run of this lab", "lab", opts.Name, "phase", old.Phase)
		if err := netns.Down(ctx, old, log); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the lab needs root (network namespaces): run as root or with sudo")
	}
	bins, err := binaries.Ensure(ctx, log)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	st := &netns.State{Name: opts.Name, Topology: opts.Source, Phase: netns.PhaseProvisioning, Bare: opts.Bare,
		Created: start.UTC(), Hosts: map[string]netns.HostInfo{}, Dir: netns.LabDir(opts.Name)}
	if err := st.SetOwner(); err != nil {
		return nil, err
	}
	if err := st.Save(); err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		_ = st.Update(func(s *netns.State) error { s.Phase = netns.PhaseFailed; return nil })
		// Clean up even when ctx was cancelled (Ctrl-C): that is when it matters most.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := netns.Down(cctx, st, log); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	if err := os.WriteFile(st.Path("topology.yaml"), opts.Data, 0o600); err != nil {
		return nil, err
	}
	l = &Lab{State: st, Topology: topo}
	if err := l.refreshModel(&CloudState{}); err != nil {
		return nil, err
	}
	if l.Plan, err = netns.Realize(ctx, st, topo, l.Model, log); err != nil {
		return nil, err
	}
	if err := l.applyImpairments(ctx, opts.Self); err != nil {
		return nil, err
	}
	if err := l.startManagedServices(ctx, log); err != nil {
		return nil, err
	}
	if topo.Cluster != nil {
		if err := l.startCluster(ctx, bins, opts.Self, log); err != nil {
			return nil, err
		}
		if err := l.startGoogleAPIs(ctx, opts.Self, log); err != nil {
			return nil, err
		}
	}
	if opts.Self != "" {
		if err := l.startAPI(ctx, opts.Self, log); err != nil {
			return nil, err
		}
	}
	if err := st.Update(func(s *netns.State) error {
		s.Phase = netns.PhaseUp
		s.OwnerPID, s.OwnerStartTime = 0, 0
		return nil
	}); err != nil {
		return nil, err
	}
	log.Info("lab up", "lab", st.Name, "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()), "state", st.Dir)
	return l, nil
}

// Open returns a lab that is up, from its state directory.
func Open(name string) (*Lab, error) {
	st, err := netns.LoadState(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab %q is not up (no state in %s): run 'reachgate lab up --name %s'", name, netns.LabDir(name), name)
	}
	if err != nil {
		return nil, err
	}
	topo, err := topology.ParseFile(st.Path("topology.yaml"))
	if err != nil {
		return nil, err
	}
	if st.Bare {
		topo = topo.ThirdPartySide()
	}
	l := &Lab{State: st, Topology: topo, Plan: netns.NewPlan(name, topo)}
	cs, err := l.LoadCloud()
	if err != nil {
		return nil, err
	}
	if err := l.refreshModel(cs); err != nil {
		return nil, err
	}
	if err := l.LoadCP(); err != nil && l.Cloud.Cluster == nil {
		return nil, err // an API cluster's control plane may still be starting
	}
	return l, nil
}

// Resolve picks a lab by name: name itself, or with an empty name the only lab there is.
func Resolve(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	states, err := netns.ListStates()
	if err != nil {
		return "", err
	}
	switch len(states) {
	case 0:
		return "", errors.New("no lab is up: run 'reachgate lab up'")
	case 1:
		return states[0].Name, nil
	}
	var names []string
	for _, s := range states {
		names = append(names, s.Name)
	}
	return "", fmt.Errorf("several labs exist (%s): choose one with --name", strings.Join(names, ", "))
}

// Down removes the lab.
func (l *Lab) Down(ctx context.Context, log *slog.Logger) error {
	return netns.Down(ctx, l.State, log)
}

// Namespace returns the network namespace of a host.
func (l *Lab) Namespace(host string) (string, error) {
	h, ok := l.State.Hosts[host]
	if !ok {
		// Another process (the lab's API) may have added it since the state was read.
		_ = l.Refresh()
		h, ok = l.State.Hosts[host]
	}
	if !ok {
		return "", fmt.Errorf("lab %s has no host %q (hosts: %s)", l.State.Name, host, l.hostNames())
	}
	return h.Namespace, nil
}

// Command returns a command that runs argv at a host's network position, with KUBECONFIG
// set to the host's kubeconfig when it has one.
func (l *Lab) Command(ctx context.Context, host string, argv ...string) (*exec.Cmd, error) {
	ns, err := l.Namespace(host)
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, errors.New("no command given")
	}
	args := append([]string{"--net=" + netns.NamespacePath(ns), "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = os.Environ()
	if kc := l.State.Hosts[host].Kubeconfig; kc != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+kc)
	}
	if host == OperatorHost {
		cmd.Env = append(cmd.Env, l.OperatorEnv()...)
	}
	if r, ok := l.ResolverOf(host); ok {
		cmd.Env = append(cmd.Env, topology.ResolverEnv+"="+r)
	}
	return cmd, nil
}

func (l *Lab) hostNames() string {
	s := ""
	for _, h := range l.Topology.Hosts {
		if s != "" {
			s += ", "
		}
		s += h.Name
	}
	return s
}
