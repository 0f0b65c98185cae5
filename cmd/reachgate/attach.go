package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	"reachgate/framework/provider"
	_ "reachgate/framework/provider/gcp" // registers the gcp provider
	_ "reachgate/framework/provider/lab" // registers the lab provider
	"reachgate/framework/selfbin"
	"reachgate/framework/topology"
)

// clientHost is host, or when it is empty the topology's third-party client: the host that
// solutions hand their kubeconfig to and benchmarks measure from by default.
func clientHost(env provider.Environment, host string) (string, error) {
	if host != "" {
		return host, nil
	}
	t := env.Topology()
	hs := t.HostsWithRole(topology.RoleThirdPartyClient)
	if len(hs) == 0 {
		return "", fmt.Errorf("topology %s has no host with role %s: give --host", t.Name, topology.RoleThirdPartyClient)
	}
	return hs[0].Name, nil
}

// envFlags choose the provisioned environment a command acts on.
type envFlags struct {
	provider string
	name     string
}

// register adds --provider and --name to c.
func (f *envFlags) register(c *cobra.Command) {
	fs := c.Flags()
	def := os.Getenv("REACHGATE_PROVIDER")
	if def == "" {
		def = "lab"
	}
	fs.StringVar(&f.provider, "provider", def, "provider of the environment ($REACHGATE_PROVIDER): "+strings.Join(provider.Names(), ", "))
	fs.StringVar(&f.name, "name", "", "environment name, the lab name on the lab provider (default: the only lab)")
}

// attach attaches to the environment the flags name; hosts run this very binary for kubectl.
func (f envFlags) attach(ctx context.Context) (provider.Environment, error) {
	if self, err := os.Executable(); err == nil {
		selfbin.Use(self)
	}
	p, err := provider.Get(f.provider)
	if err != nil {
		return nil, err
	}
	return provider.Attach(ctx, p, f.name, slog.Default())
}

// describe names env for output: the provider and the environment's name, or the topology
// it realizes when no name was given.
func (f envFlags) describe(env provider.Environment) string {
	if f.name != "" {
		return f.provider + " " + f.name
	}
	return f.provider + " (topology " + env.Topology().Name + ")"
}

// ability returns x as the optional ability T, or an error that names the provider and the
// missing ability.
func ability[T any](x any, providerName, what string) (T, error) {
	v, ok := x.(T)
	if !ok {
		return v, fmt.Errorf("provider %s cannot %s (no %s)", providerName, what, reflect.TypeFor[T]())
	}
	return v, nil
}
