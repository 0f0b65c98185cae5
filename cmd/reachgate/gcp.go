package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/gcpimport"
	"reachgate/framework/provider"
)

func newGCPCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "gcp",
		Short: "Read a GCP project (or a lab's GCP API) through Google's official clients, and clean up after runs",
	}
	c.AddCommand(newGCPImportCommand(), newGCPJanitorCommand(), newGCPPlanCommand(), newGCPProvisionCommand(), newGCPTeardownCommand())
	return c
}

// gcpFlags choose the project and the API that serves it: Google's, or a running lab's.
type gcpFlags struct {
	project string
	regions []string
	lab     string
}

func (f *gcpFlags) register(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&f.project, "project", os.Getenv("REACHGATE_GCP_PROJECT"), "GCP project ($REACHGATE_GCP_PROJECT); with --gcp-lab, default the lab's")
	var regions []string
	if r := os.Getenv("REACHGATE_GCP_REGION"); r != "" {
		regions = strings.Split(r, ",")
	}
	fs.StringSliceVar(&f.regions, "region", regions, "regions to read ($REACHGATE_GCP_REGION, comma-separated); default every region with a subnet")
	fs.StringVar(&f.lab, "gcp-lab", os.Getenv("REACHGATE_GCP_LAB"), "read a running lab's GCP API instead of Google's ($REACHGATE_GCP_LAB)")
}

// config is the import's configuration; with --gcp-lab it attaches to the lab for its API.
func (f gcpFlags) config(cmd *cobra.Command) (gcpimport.Config, provider.Environment, error) {
	cfg := gcpimport.Config{Project: f.project, Regions: f.regions}
	if f.lab == "" {
		if cfg.Project == "" {
			return cfg, nil, exitErrorf(2, "no project: give --project or set REACHGATE_GCP_PROJECT (or --gcp-lab NAME for a lab)")
		}
		return cfg, nil, nil
	}
	env, err := envFlags{provider: "lab", name: f.lab}.attach(cmd.Context())
	if err != nil {
		return cfg, nil, err
	}
	api, err := ability[provider.GCPAPI](env, "lab", "serve a GCP API")
	if err != nil {
		return cfg, nil, err
	}
	access, err := api.GCPAPI(cmd.Context())
	if err != nil {
		return cfg, nil, err
	}
	if cfg.Project == "" {
		cfg.Project = access.Project
	}
	cfg.Endpoint, cfg.Options = access.Endpoint, access.Options
	return cfg, env, nil
}

func newGCPImportCommand() *cobra.Command {
	var g gcpFlags
	var external, out, name string
	c := &cobra.Command{
		Use:   "import --project P [--external third-party.yaml] [-o topology.yaml]",
		Short: "Write a project's networks, routers, peerings, firewall rules, VPN, VMs and private cluster as a reachgate topology",
		Long: `Reads networks, subnets, routes, firewall rules, Cloud Routers, peerings, HA VPN tunnels,
interconnect attachments, addresses, instances and GKE clusters through the official compute
and container clients, and writes a topology. The third-party cloud is not in the project:
--external names a small file (kind: ThirdParty) with its VPCs, hosts and the links that land
on the project's Cloud Routers. What cannot be modelled is listed as notes at the top.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ext *gcpimport.External
			if external != "" {
				var err error
				if ext, err = gcpimport.ReadExternal(external); err != nil {
					return exitErrorf(2, "%v", err)
				}
			}
			cfg, env, err := g.config(cmd)
			if err != nil {
				return err
			}
			if env != nil && ext == nil {
				ext = gcpimport.ExternalOf(env.Topology())
			}
			cfg.Name, cfg.Timeout = name, 2*time.Minute
			start := time.Now()
			r, err := gcpimport.Import(cmd.Context(), cfg, ext)
			if err != nil {
				return err
			}
			data, err := r.YAML()
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			s := r.File.Spec
			fmt.Fprintf(cmd.ErrOrStderr(), "imported %s in %s: %d VPCs, %d hosts, %d links, %d notes -> %s\n",
				cfg.Project, time.Since(start).Round(time.Millisecond), len(s.VPCs), len(s.Hosts), len(s.Links), len(r.Notes), out)
			return nil
		},
	}
	g.register(c)
	c.Flags().StringVar(&external, "external", "", "the third-party side (kind: ThirdParty); with --gcp-lab, default the lab's own")
	c.Flags().StringVarP(&out, "output", "o", "", "file to write the topology to (default stdout)")
	c.Flags().StringVar(&name, "name", "", "the topology's name (default the project)")
	return c
}
