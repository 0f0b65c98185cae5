// Package coreonly registers "core-only", a test provider that realizes topologies with
// another provider (the lab by default; REACHGATE_COREONLY_BASE names another) and hands out
// only the core interfaces: an Environment and Hosts with none of the optional abilities. Every
// suite must run on it to the end, skipping with a reason what it cannot do, never panicking.
package coreonly

import (
	"context"
	"net"
	"os"

	"reachgate/framework/cloud"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
)

// Name is the provider's registered name.
const Name = "core-only"

func init() {
	provider.Register(Name, func() (provider.Provider, error) {
		base := os.Getenv("REACHGATE_COREONLY_BASE")
		if base == "" {
			base = "lab"
		}
		p, err := provider.Get(base)
		if err != nil {
			return nil, err
		}
		return coreProvider{base: p}, nil
	})
}

type coreProvider struct{ base provider.Provider }

func (coreProvider) Name() string { return Name }

func (p coreProvider) Provision(ctx context.Context, spec provider.Spec) (provider.Environment, error) {
	env, err := p.base.Provision(ctx, spec)
	if err != nil {
		return nil, err
	}
	return coreEnv{base: env}, nil
}

// coreEnv has exactly the methods of provider.Environment.
type coreEnv struct{ base provider.Environment }

func (e coreEnv) Topology() *topology.Topology       { return e.base.Topology() }
func (e coreEnv) Cluster() cloud.ClusterDescription  { return e.base.Cluster() }
func (e coreEnv) Teardown(ctx context.Context) error { return e.base.Teardown(ctx) }
func (e coreEnv) Host(name string) (provider.Host, error) {
	h, err := e.base.Host(name)
	if err != nil {
		return nil, err
	}
	return coreHost{base: h}, nil
}

// coreHost has exactly the methods of provider.Host.
type coreHost struct{ base provider.Host }

func (h coreHost) Name() string { return h.base.Name() }
func (h coreHost) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return h.base.DialContext(ctx, network, addr)
}
func (h coreHost) Run(ctx context.Context, argv ...string) (string, error) {
	return h.base.Run(ctx, argv...)
}
func (h coreHost) Kubectl(ctx context.Context, args ...string) (string, error) {
	return h.base.Kubectl(ctx, args...)
}
