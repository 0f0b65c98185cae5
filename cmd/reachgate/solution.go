package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/provider"
	"reachgate/framework/solution/bgpexport"
	"reachgate/framework/solution/dnsendpoint"
	"reachgate/framework/solution/ilbproxy"
	"reachgate/framework/solution/pscendpoint"
	"reachgate/reports"
)

func newSolutionCommand() *cobra.Command {
	c := &cobra.Command{Use: "solution", Short: "Apply or remove a solution on a lab (ilb-proxy, bgp-export, psc-endpoint)"}
	var ef envFlags
	var variant, proxyName, address, host string
	var ttl time.Duration
	var service string
	apply := &cobra.Command{
		Use:   "apply ilb-proxy|bgp-export|psc-endpoint|dns-endpoint",
		Short: "Stand the solution up and place the third-party VM's kubeconfig on it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := solutionEnv(cmd, args[0], ef)
			if err != nil {
				return err
			}
			if host, err = clientHost(env, host); err != nil {
				return err
			}
			if service != "" && args[0] != "bgp-export" {
				return fmt.Errorf("--service applies to bgp-export (the route export reaches managed services over Private Service Access)")
			}
			if args[0] == pscendpoint.Name {
				return applyPSCEndpoint(cmd, ef.provider, env, pscendpoint.Options{TokenTTL: ttl}, host)
			}
			if args[0] == dnsendpoint.Name {
				return applyDNSEndpoint(cmd, ef.provider, env, dnsendpoint.Options{TokenTTL: ttl}, host)
			}
			if args[0] == "bgp-export" {
				return applyBGPExport(cmd, ef.provider, env, bgpexport.Options{Variant: bgpexport.Variant(variant), TokenTTL: ttl, Service: service}, host)
			}
			p, err := ilbproxy.ParseProxy(proxyName)
			if err != nil {
				return err
			}
			addr, err := netip.ParseAddr(address)
			if err != nil {
				return fmt.Errorf("--address %q: %w", address, err)
			}
			res, err := ilbproxy.Apply(cmd.Context(), env, ilbproxy.Options{Variant: ilbproxy.Variant(variant), Proxy: p,
				Address: addr, TokenTTL: ttl, Log: slog.Default()})
			if err != nil {
				return err
			}
			path, err := placeFile(cmd, ef.provider, env, host, "ilb-proxy.kubeconfig", res.Kubeconfig)
			if err != nil {
				return err
			}
			fmt.Printf("ilb-proxy (%s, %s) ready at %s in %.1f s\n", p, variant, res.Server, res.Seconds)
			if res.Token == "" {
				fmt.Printf("the kubeconfig has no token: the ServiceAccount lists %d token Secrets (none exist since Kubernetes 1.24)\n", res.SecretsFound)
			} else {
				fmt.Printf("token expires %s\n", res.Expires.Format(time.RFC3339))
			}
			fmt.Printf("kubeconfig for %s: %s\ntry: reachgate lab exec %s -- reachgate kubectl --kubeconfig %s get nodes\n", host, path, host, path)
			return nil
		},
	}
	apply.Flags().StringVar(&variant, "variant", "hardened", "seed (the article as written) or hardened")
	apply.Flags().StringVar(&proxyName, "proxy", "nginx", "nginx, go-l7 (or go), go-l4")
	apply.Flags().StringVar(&address, "address", "10.128.0.28", "static internal address of the load balancer")
	apply.Flags().StringVar(&host, "host", "", "host that gets the kubeconfig (default: the topology's third-party client)")
	apply.Flags().DurationVar(&ttl, "token-ttl", 24*time.Hour, "lifetime of the ServiceAccount token")
	apply.Flags().StringVar(&service, "service", "", "bgp-export: also reach the VPC's managed service over Private Service Access (redis)")
	remove := &cobra.Command{
		Use:   "remove ilb-proxy|bgp-export|psc-endpoint|dns-endpoint",
		Short: "Remove everything apply created",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := solutionEnv(cmd, args[0], ef)
			if err != nil {
				return err
			}
			switch args[0] {
			case "bgp-export":
				return bgpexport.Remove(cmd.Context(), env, bgpexport.Options{Log: slog.Default()})
			case pscendpoint.Name:
				return pscendpoint.Remove(cmd.Context(), env, pscendpoint.Options{Log: slog.Default()})
			case dnsendpoint.Name:
				return dnsendpoint.Remove(cmd.Context(), env, dnsendpoint.Options{Log: slog.Default()})
			}
			return ilbproxy.Remove(cmd.Context(), env, ilbproxy.Options{Log: slog.Default()})
		},
	}
	for _, sub := range []*cobra.Command{apply, remove} {
		ef.register(sub)
		c.AddCommand(sub)
	}
	var in string
	compare := &cobra.Command{
		Use:   "compare [--in DIR]",
		Short: "Put the solutions of the last run side by side: verdict, GET /version p50/p95, cloud and Kubernetes footprint, failure modes, findings",
		Long: "Reads DIR/results.json (written by make e2e-local or reachgate report) and prints one row per solution\n" +
			"(and proxy) the run applied: the same table as report.html's \"Solutions compared\".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(in, reports.ResultsJSON)
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s does not exist: run make e2e-local (or the solution suites, then reachgate report --in %s) first", path, in)
			}
			if err != nil {
				return err
			}
			var res reports.Results
			if err := json.Unmarshal(data, &res); err != nil {
				return fmt.Errorf("%s: %w (rebuild it with reachgate report --in %s)", path, err, in)
			}
			return reports.WriteCompare(cmd.OutOrStdout(), reports.Compare(&res))
		},
	}
	compare.Flags().StringVar(&in, "in", "reports/out", "report directory")
	c.AddCommand(compare)
	return c
}

func applyBGPExport(cmd *cobra.Command, providerName string, env provider.Environment, o bgpexport.Options, host string) error {
	o.Log = slog.Default()
	variant := o.Variant
	res, err := bgpexport.Apply(cmd.Context(), env, o)
	if err != nil {
		return err
	}
	path, err := placeFile(cmd, providerName, env, host, "bgp-export.kubeconfig", res.Kubeconfig)
	if err != nil {
		return err
	}
	fmt.Printf("bgp-export (%s): %d tunnels and BGP sessions up in %.1f s; control plane at %s\n", variant, len(res.Plan.Tunnels), res.Seconds, res.Server)
	for _, n := range res.Notes {
		fmt.Println("note:", n)
	}
	fmt.Printf("kubeconfig for %s: %s\ntry: reachgate lab exec %s -- reachgate kubectl --kubeconfig %s get nodes\n", host, path, host, path)
	return nil
}

func applyPSCEndpoint(cmd *cobra.Command, providerName string, env provider.Environment, o pscendpoint.Options, host string) error {
	o.Log = slog.Default()
	res, err := pscendpoint.Apply(cmd.Context(), env, o)
	if err != nil {
		return err
	}
	path, err := placeFile(cmd, providerName, env, host, "psc-endpoint.kubeconfig", res.Kubeconfig)
	if err != nil {
		return err
	}
	fmt.Printf("psc-endpoint: control plane at %s (Private Service Connect endpoint in %s); %d cloud settings changed in %.1f s\n",
		res.Server, res.Plan.EndpointRange, res.Plan.Changes.Count(), res.Seconds)
	fmt.Printf("kubeconfig for %s: %s\ntry: reachgate lab exec %s -- reachgate kubectl --kubeconfig %s get nodes\n", host, path, host, path)
	return nil
}

func applyDNSEndpoint(cmd *cobra.Command, providerName string, env provider.Environment, o dnsendpoint.Options, host string) error {
	o.Log = slog.Default()
	res, err := dnsendpoint.Apply(cmd.Context(), env, o)
	if err != nil {
		return err
	}
	path, err := placeFile(cmd, providerName, env, host, "dns-endpoint.kubeconfig", res.Kubeconfig)
	if err != nil {
		return err
	}
	fmt.Printf("dns-endpoint: control plane at %s (Google's front end, IAM principal %s); %d cloud settings changed in %.1f s\n",
		res.Server, res.Plan.Principal, res.Plan.Changes.Count(), res.Seconds)
	fmt.Printf("kubeconfig for %s: %s\ntry: reachgate lab exec %s -- reachgate kubectl --kubeconfig %s get nodes\n", host, path, host, path)
	return nil
}

// solutionEnv checks the solution's name and attaches to the environment it applies to.
func solutionEnv(cmd *cobra.Command, solution string, ef envFlags) (provider.Environment, error) {
	if solution != "ilb-proxy" && solution != "bgp-export" && solution != pscendpoint.Name && solution != dnsendpoint.Name {
		return nil, fmt.Errorf("solution %q: supported: ilb-proxy, bgp-export, %s, %s", solution, pscendpoint.Name, dnsendpoint.Name)
	}
	return ef.attach(cmd.Context())
}

// placeFile puts data on the named host of env as a file called name and returns its path.
func placeFile(cmd *cobra.Command, providerName string, env provider.Environment, host, name string, data []byte) (string, error) {
	h, err := env.Host(host)
	if err != nil {
		return "", err
	}
	fp, err := ability[provider.FilePlacer](h, providerName, "place a file on host "+host)
	if err != nil {
		return "", err
	}
	return fp.PlaceFile(cmd.Context(), name, data)
}
