// Command reachgate stands up private-GKE-access topologies and verifies them.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"reachgate/framework/topology"
)

// exitError carries a specific exit code (an exec'd command's, or 2 for bad input).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	rootlessMain()
	useResolver(os.Getenv(topology.ResolverEnv))
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		os.Exit(runKubectl(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

// useResolver makes every name lookup of this process (its kubectl, its probes) ask addr
// ("ip:53"), the resolver of the lab VPC the command runs in, as a VM's resolv.conf would.
func useResolver(addr string) {
	if addr == "" {
		return
	}
	net.DefaultResolver.PreferGo = true
	net.DefaultResolver.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// A command reachgate ran for the user (lab exec) exited: its code is the answer and it
	// said why itself. A command failing inside reachgate's own work is reported below.
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		if error(xe) != err {
			fmt.Fprintln(os.Stderr, "reachgate:", err)
		}
		return xe.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "reachgate:", err)
	var te *topology.Error
	if errors.As(err, &te) {
		return 2
	}
	return 1
}

func newRootCommand() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:           "reachgate",
		Short:         "Acceptance gate for reaching a private GKE control plane from another cloud",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			// With the container runtime lab commands run inside the user's lab container;
			// without root, inside the user's lab namespaces (lab/rootless). There the command
			// has run; its exit status ends this one.
			mode := rootlessMode(cmd)
			if commandRuntime(cmd) == "container" {
				handled, err := maybeContainer(cmd, mode)
				if handled && err == nil {
					err = exitError{0}
				}
				return err
			}
			if handled, err := maybeRootless(cmd, mode); handled {
				if err == nil {
					err = exitError{0}
				}
				return err
			}
			return nil
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	// Every command, in one list; help lists them alphabetically.
	root.AddCommand(
		// The lab and what runs against it.
		newDoctorCommand(),
		newLabCommand(),
		newSolutionCommand(),
		newProbeCommand(),
		newLintCommand(),
		newReportCommand(),
		newE2ECommand(),
		newBenchCommand(),
		newGateCommand(),
		newGCPCommand(),
		newKubectlCommand(),
		newILBCommand(),
		// Daemons the lab starts inside its namespaces.
		newProxyCommand(),
		newWANCommand(),
		newVPNCommand(),
		newBGPCommand(),
		// What runs on a VM of a gcp-provider run.
		newAgentCommand(),
		newGuestInitCommand(),
	)
	return root
}
