package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"reachgate/fixtures"
	"reachgate/framework/cloud"
	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab"
	"reachgate/lab/binaries"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/doctor"
	"reachgate/lab/gke"
	"reachgate/lab/netns"
)

func newLabCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "lab",
		Short: "The local lab: the topology in network namespaces with a real control plane",
	}
	c.PersistentFlags().String("runtime", defaultRuntime(), "local (this machine's namespaces; rootless without root) or container (the user's lab container through Docker; lab gc then also removes lab containers, label "+labContainerLabel+", a killed run left) ($"+runtimeEnv+")")
	c.AddCommand(newLabUpCommand(), newLabDownCommand(), newLabStatusCommand(), newLabExecCommand(),
		newLabGCCommand(), newLabGKECommand(), newLabGoogleAPIsCommand(), newLabResolverCommand(), newLabBuildCommand(), newLabExplainCommand(),
		newLabEnvCommand(), newLabServeAPICommand())
	return c
}

// readTopology returns the named file's text, or the embedded seed topology.
func readTopology(path string) (source string, data []byte, err error) {
	if path == "" {
		data, err := fixtures.Topology("seed")
		return "embedded:fixtures/topologies/seed.yaml", data, err
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return "", nil, &topology.Error{File: path, Msg: fmt.Sprintf("cannot read the topology file: %v", err)}
	}
	return path, data, nil
}

func newLabUpCommand() *cobra.Command {
	var file, name string
	var bare bool
	c := &cobra.Command{
		Use:   "up",
		Short: "Provision the lab (idempotent: an up lab is left as it is)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			source, data, err := readTopology(file)
			if err != nil {
				return err
			}
			if name == "" {
				t, err := topology.Parse(source, data)
				if err != nil {
					return err
				}
				name = t.Name
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			l, err := lab.Up(cmd.Context(), lab.Options{Name: name, Source: source, Data: data, Self: self, Log: slog.Default(), Bare: bare})
			if err != nil {
				return err
			}
			fmt.Printf("lab %s is up (state in %s)\n", l.State.Name, l.State.Dir)
			if bare {
				fmt.Printf("bare: the third-party side only; project %s is empty until its GCP API creates VPCs, subnets and VMs (reachgate lab env --name %s)\n", lab.Project(l.State.Name), l.State.Name)
			}
			if l.CP != nil {
				fmt.Printf("control plane: %s (admin kubeconfig %s)\n", l.CP.URL(), l.CP.AdminKubeconfig)
			}
			if c := l.Topology.Cluster; c != nil && c.DNS != nil {
				fmt.Printf("DNS-based endpoint: https://%s (Google's front end at %s)\n", c.DNS.Name, netmodel.PrivateGoogleAPIs)
			}
			if c := l.Topology.Cluster; c != nil && len(c.Nodes) > 0 {
				fmt.Printf("try: reachgate lab exec --name %s %s -- reachgate kubectl get nodes\n", l.State.Name, c.Nodes[0])
				for _, h := range l.Topology.HostsWithRole(topology.RoleThirdPartyClient) {
					fmt.Printf("     reachgate lab explain --name %s --from %s --to %s:443\n", l.State.Name, h.Name, c.PrivateEndpoint)
					if c.DNS != nil {
						fmt.Printf("     reachgate lab explain --name %s --from %s --to %s\n", l.State.Name, h.Name, c.DNS.Name)
					}
				}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&file, "topology", "f", "", "topology file (default: the embedded fixtures/topologies/seed.yaml)")
	c.Flags().StringVar(&name, "name", "", "lab name (default: the topology's metadata.name)")
	c.Flags().BoolVar(&bare, "bare", false, "the topology's third-party side only, with an empty project behind the lab's GCP API")
	return c
}

// resolveName picks the lab: the flag, or the only lab there is.
func resolveName(name string) (string, error) { return lab.Resolve(name) }

// openLab opens the named lab, or the only one with an empty name.
func openLab(name string) (*lab.Lab, error) {
	n, err := resolveName(name)
	if err != nil {
		return nil, err
	}
	return lab.Open(n)
}

func newLabDownCommand() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "down",
		Short: "Remove the lab: its processes (returning once they have exited), namespaces and state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := resolveName(name)
			if err != nil {
				return err
			}
			st, err := netns.LoadState(n)
			if errors.Is(err, os.ErrNotExist) {
				fmt.Printf("lab %s is not up; nothing to do\n", n)
				return nil
			}
			if err != nil {
				return err
			}
			return netns.Down(cmd.Context(), st, slog.Default())
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the only lab)")
	return c
}

func newLabGCCommand() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "gc",
		Short: "Remove what dead or interrupted labs left behind (namespaces, processes, state)",
		Long: "Remove what dead or interrupted labs left behind (namespaces, processes, state).\n" +
			"It returns once every process it removes has exited. With --name only that lab and\n" +
			"the orphan namespaces named for it are considered; other labs are left alone.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name != "" {
				return netns.GCLab(cmd.Context(), name, slog.Default())
			}
			return netns.GC(cmd.Context(), slog.Default())
		},
	}
	c.Flags().StringVar(&name, "name", "", "only this lab (default: every lab)")
	return c
}

func newLabExecCommand() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "exec HOST -- COMMAND [ARGS...]",
		Short: "Run a command at a host's network position (KUBECONFIG set to its kubeconfig)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := openLab(name)
			if err != nil {
				return err
			}
			x, err := l.Command(cmd.Context(), args[0], args[1:]...)
			if err != nil {
				return err
			}
			x.Stdin, x.Stdout, x.Stderr = os.Stdin, os.Stdout, os.Stderr
			return x.Run()
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the only lab)")
	return c
}

func newDoctorCommand() *cobra.Command {
	var asJSON, kernelOnly bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check in about a second what the lab needs on this machine (root, kernel features, tools, Go, disk, caches), each missing piece with its fix",
		Long: "Probes the kernel in a network namespace of its own (veth, nftables, WireGuard), looks for the\n" +
			"tools the lab and the tests run, the free disk of the build cache, whether the lab binaries are\n" +
			"built, and labs left behind. Exits 1 when something the lab needs is missing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, _ := os.Executable()
			checks := doctor.Run(cmd.Context(), doctor.Options{Self: self, KernelOnly: kernelOnly})
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(checks); err != nil {
					return err
				}
			} else {
				for _, ch := range checks {
					fmt.Fprintf(cmd.OutOrStdout(), "%-8s %-40s %s\n", ch.Status, ch.Name, ch.Detail)
					if ch.Fix != "" {
						fmt.Fprintf(cmd.OutOrStdout(), "%-8s %-40s fix: %s\n", "", "", ch.Fix)
					}
				}
			}
			if doctor.Failed(checks) {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	c.Flags().BoolVar(&kernelOnly, "kernel-only", false, "only probe the kernel (run inside a user namespace without root)")
	_ = c.Flags().MarkHidden("kernel-only")
	return c
}

func newLabGoogleAPIsCommand() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:    "google-apis",
		Short:  "Run the lab's Google API front end for the cluster's DNS-based endpoint (the daemon 'lab up' starts)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.ServeGoogleAPIs(cmd.Context(), name, slog.Default())
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name")
	_ = c.MarkFlagRequired("name")
	return c
}

func newLabResolverCommand() *cobra.Command {
	var name, vpc string
	c := &cobra.Command{
		Use:    "resolver",
		Short:  "Run a third-party VPC's DNS resolver (the daemon 'lab up' starts)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.ServeResolver(cmd.Context(), name, vpc, slog.Default())
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name")
	c.Flags().StringVar(&vpc, "vpc", "", "the VPC whose resolver this is")
	_ = c.MarkFlagRequired("name")
	_ = c.MarkFlagRequired("vpc")
	return c
}

func newLabGKECommand() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:    "gke",
		Short:  "Run the lab's GKE emulation: kubelets, workload and service controllers (the daemon 'lab up' starts)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return gke.Run(cmd.Context(), name, slog.Default())
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name")
	_ = c.MarkFlagRequired("name")
	return c
}

// statusView is `lab status --json`.
type statusView struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Alive    bool   `json:"alive"`
	Topology string `json:"topology"`
	StateDir string `json:"stateDir"`
	// RootlessHolder is the PID holding the user namespace the lab lives in (not root), or "".
	RootlessHolder string                    `json:"rootlessHolder,omitempty"`
	Hosts          map[string]netns.HostInfo `json:"hosts"`
	Processes      []processView             `json:"processes"`
	Endpoint       string                    `json:"controlPlane,omitempty"`
	// Routers, VPNGateways and Peerings are shaped like GCP's GetRouterStatus,
	// VpnGateways.GetStatus and ListPeeringRoutes.
	Routers     []cloud.RouterStatus     `json:"routers,omitempty"`
	VPNGateways []cloud.VpnGatewayStatus `json:"vpnGateways,omitempty"`
	Peerings    []peeringView            `json:"peerings,omitempty"`
	// ManagedServices are the Memorystore for Redis instances of managed-service hosts (never
	// their AUTH string).
	ManagedServices []lab.ManagedServiceStatus `json:"managedServices,omitempty"`
}

type peeringView struct {
	Network  string               `json:"network"`
	Peering  string               `json:"peering"`
	Incoming []cloud.PeeringRoute `json:"incoming"`
	Outgoing []cloud.PeeringRoute `json:"outgoing"`
}

// cloudStatus fills the routers, VPN gateways and peerings sections of a lab's status.
func cloudStatus(ctx context.Context, l *lab.Lab, v *statusView) {
	c := labcloud.Lab{L: l}
	for _, link := range l.Current.Links {
		switch {
		case link.Type == topology.LinkPeering:
			for _, side := range []string{link.A.VPC, link.B.VPC} {
				in, _ := c.ListPeeringRoutes(ctx, side, link.Name, cloud.Incoming)
				out, _ := c.ListPeeringRoutes(ctx, side, link.Name, cloud.Outgoing)
				v.Peerings = append(v.Peerings, peeringView{Network: side, Peering: link.Name, Incoming: in, Outgoing: out})
			}
		case link.Solution != "":
			for _, e := range []topology.Endpoint{link.A, link.B} {
				if st, err := c.GetRouterStatus(ctx, e.VPC, e.Router); err == nil {
					v.Routers = append(v.Routers, st)
				}
				if gs, err := c.GetVpnGatewayStatus(ctx, e.Gateway); err == nil && l.Topology.Network(e.VPC).GCP() {
					v.VPNGateways = append(v.VPNGateways, gs)
				}
			}
		}
	}
}

type processView struct {
	netns.Process
	Running bool `json:"running"`
}

func newLabStatusCommand() *cobra.Command {
	var name string
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Show labs, their hosts and processes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			states, err := netns.ListStates()
			if err != nil {
				return err
			}
			var views []statusView
			for _, st := range states {
				if name != "" && st.Name != name {
					continue
				}
				v := statusView{Name: st.Name, Phase: st.Phase, Alive: st.Alive(), Topology: st.Topology, StateDir: st.Dir, Hosts: st.Hosts, RootlessHolder: rootlessHolder()}
				for _, p := range st.Processes {
					v.Processes = append(v.Processes, processView{p, p.Running()})
				}
				if l, err := lab.Open(st.Name); err == nil {
					if l.CP != nil {
						v.Endpoint = l.CP.URL()
					}
					cloudStatus(cmd.Context(), l, &v)
					v.ManagedServices = l.ManagedServices()
				}
				views = append(views, v)
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(views)
			}
			if len(views) == 0 {
				fmt.Println("no lab")
				return nil
			}
			for _, v := range views {
				fmt.Printf("lab %s: %s (alive=%v) topology=%s state=%s\n", v.Name, v.Phase, v.Alive, v.Topology, v.StateDir)
				if v.RootlessHolder != "" {
					fmt.Printf("  rootless: in the user namespace held by PID %s (its /run; nothing in the host's namespaces)\n", v.RootlessHolder)
				}
				if v.Endpoint != "" {
					fmt.Printf("  control plane %s\n", v.Endpoint)
				}
				if op, ok := v.Hosts[lab.OperatorHost]; ok && op.API != "" {
					fmt.Printf("  GCP API %s in namespace %s (gcloud: reachgate lab exec --name %s operator -- gcloud …; exports: reachgate lab env)\n", op.API, op.Namespace, v.Name)
				}
				tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  HOST\tIP\tVPC\tROLE\tNAMESPACE")
				hosts := make([]string, 0, len(v.Hosts))
				for h := range v.Hosts {
					hosts = append(hosts, h)
				}
				sort.Strings(hosts)
				for _, h := range hosts {
					info := v.Hosts[h]
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", h, info.IP, info.VPC, info.Role, info.Namespace)
				}
				tw.Flush()
				tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  PROCESS\tPID\tRUNNING\tNAMESPACE\tLOG")
				for _, p := range v.Processes {
					fmt.Fprintf(tw, "  %s\t%d\t%v\t%s\t%s\n", p.Name, p.PID, p.Running, p.Namespace, p.Log)
				}
				tw.Flush()
				if len(v.ManagedServices) > 0 {
					tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "  MANAGED SERVICE\tKIND\tADDRESS\tTLS\tAUTH\tPID\tRUNNING")
					for _, m := range v.ManagedServices {
						fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%v\n", m.Host, m.Kind, m.Address, onOff(m.TLS), onOff(m.Auth), m.PID, m.Running)
					}
					tw.Flush()
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "only this lab")
	c.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	return c
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func newLabBuildCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "build",
		Short: "Build kube-apiserver and etcd at the pinned versions into the cache (only when missing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := binaries.Ensure(cmd.Context(), slog.Default())
			if err != nil {
				return err
			}
			fmt.Printf("kube-apiserver %s: %s\netcd %s: %s\n", set.KubernetesVersion, set.APIServer, set.EtcdVersion, set.Etcd)
			return nil
		},
	}
}
