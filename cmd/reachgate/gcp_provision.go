package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/provider"
	"reachgate/framework/provider/gcp"
)

// gcpCloud opens the official clients on the project the flags name (Google's, or a lab's
// API with --gcp-lab), and the lab's environment when there is one.
func (f gcpFlags) cloud(cmd *cobra.Command) (*gcp.Cloud, provider.Environment, string, error) {
	cfg, env, err := f.config(cmd)
	if err != nil {
		return nil, nil, "", err
	}
	c, err := gcp.New(cmd.Context(), gcp.Config{Project: cfg.Project, Endpoint: cfg.Endpoint, Options: cfg.Options, Timeout: 10 * time.Minute})
	return c, env, cfg.Project, err
}

func newGCPProvisionCommand() *cobra.Command {
	var (
		g                  gcpFlags
		file, run          string
		agentURL, agentSum string
	)
	c := &cobra.Command{
		Use:   "provision -f topology.yaml --run NAME (--project P | --gcp-lab LAB)",
		Short: "Create a topology's VPCs, subnets, firewall rules and VMs in a project, each VM with reachgate's agent",
		Long: `Creates what 'reachgate gcp plan' lists as created by provision, through the official clients,
marked with the run, and waits for every VM's agent. Cloud Routers, peerings, the interconnect
stand-in and the cluster are not created by this command yet: a topology that has them is
refused before anything is created. What a failed or killed provision leaves,
'reachgate gcp teardown --run NAME' or the janitor removes.

With --gcp-lab the project is a lab's (start it with 'reachgate lab up --bare'): the lab's own
third-party side stands for the third-party cloud, and the agent is the lab's reachgate.
Against Google, --agent-url names the agent binary (a Cloud Storage object the VMs read
through Private Google Access) and --agent-sha256 its digest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, source, err := parseTopologyFile(file)
			if err != nil {
				return err
			}
			if err := gcp.ValidRun(run); err != nil {
				return exitErrorf(2, "--run: %v", err)
			}
			c, env, project, err := g.cloud(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			o := gcp.ProvisionOptions{Run: run, AgentURL: agentURL, AgentSHA256: agentSum, Log: cmd.ErrOrStderr()}
			if env != nil {
				o.ExternalThirdParty = true
				src, err := ability[provider.AgentSource](env, "lab", "hand a VM the agent")
				if err != nil {
					return err
				}
				if o.AgentURL, o.AgentSHA256, err = src.AgentSource(cmd.Context()); err != nil {
					return err
				}
			}
			if o.AgentURL == "" || o.AgentSHA256 == "" {
				return exitErrorf(2, "give --agent-url and --agent-sha256 (the agent binary the VMs fetch), or --gcp-lab")
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "provision: %s into project %s as run %s\n", source, project, run)
			p, err := c.Provision(cmd.Context(), t, o)
			if err != nil {
				return fmt.Errorf("%w\n(what was created stays: reachgate gcp teardown --run %s)", err, run)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "provision: %d VMs with their agents in %.1fs; API calls %s\n", len(p.Hosts), p.Took.Seconds(), c.Calls)
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
	g.register(c)
	c.Flags().StringVarP(&file, "topology", "f", "", "topology file (default: the embedded seed topology)")
	c.Flags().StringVar(&run, "run", "", "the run's name (part of every resource name)")
	c.Flags().StringVar(&agentURL, "agent-url", "", "where the VMs fetch reachgate's agent (https://storage.googleapis.com/...)")
	c.Flags().StringVar(&agentSum, "agent-sha256", "", "the agent binary's SHA-256")
	_ = c.MarkFlagRequired("run")
	return c
}

func newGCPTeardownCommand() *cobra.Command {
	var g gcpFlags
	var run string
	c := &cobra.Command{
		Use:   "teardown --run NAME (--project P | --gcp-lab LAB)",
		Short: "Delete everything of one run from a project, in dependency order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := gcp.ValidRun(run); err != nil {
				return exitErrorf(2, "--run: %v", err)
			}
			c, _, _, err := g.cloud(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			err = c.Teardown(cmd.Context(), run, cmd.ErrOrStderr())
			fmt.Fprintf(cmd.ErrOrStderr(), "teardown: API calls %s\n", c.Calls)
			return err
		},
	}
	g.register(c)
	c.Flags().StringVar(&run, "run", "", "the run")
	_ = c.MarkFlagRequired("run")
	return c
}
