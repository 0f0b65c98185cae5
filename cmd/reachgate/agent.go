package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/agent"
)

// newAgentCommand is reachgate's agent on a VM: what the startup script starts (see package
// agent for the protocol).
func newAgentCommand() *cobra.Command {
	var metadataURL string
	var poll time.Duration
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run jobs from this VM's metadata and answer in guest attributes (a VM's startup script starts it)",
		Long: `The agent on a VM of a gcp-provider run. It long-polls the metadata server for items
reachgate-job-<id> (JSON {"argv": [...], "timeoutSec": N}), runs each once and writes the result
as guest attributes reachgate/<id>-<chunk> and reachgate/<id>; argv[0] "reachgate" is this
binary (kubectl is "reachgate kubectl"). No SSH, no public address, no firewall rule: only the
metadata server. The instance's metadata must set enable-guest-attributes=TRUE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			err = agent.Run(ctx, agent.Options{Base: metadataURL, Self: self, Log: slog.Default(), Poll: poll})
			if ctx.Err() != nil {
				return nil
			}
			return err
		},
	}
	c.Flags().StringVar(&metadataURL, "metadata", "http://169.254.169.254", "the metadata server")
	c.Flags().DurationVar(&poll, "poll", time.Minute, "longest wait for a metadata change")
	return c
}

// newGuestInitCommand is the init of a lab instance's boot (the lab's GCP API starts it on
// instances.reset): it runs the startup script and reaps what the script leaves running.
func newGuestInitCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "guest-init SCRIPT",
		Short:  "Run a lab instance's startup script as its init (the lab's GCP API starts it on reset)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE:   func(_ *cobra.Command, args []string) error { return guestInit(args[0]) },
	}
}
