package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"reachgate/lab/bgp"
)

// newBGPCommand is the BGP speaker daemon of one router; the lab starts it inside the
// router's namespace, next to the VPN daemon whose tunnels carry its sessions.
func newBGPCommand() *cobra.Command {
	var spec string
	c := &cobra.Command{
		Use:    "bgp",
		Short:  "Run a BGP speaker (GoBGP) that programs learned routes into the current network namespace",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bgp.Run(cmd.Context(), spec, slog.Default())
		},
	}
	c.Flags().StringVar(&spec, "spec", "", "speaker spec file (JSON); status goes to FILE.status.json")
	_ = c.MarkFlagRequired("spec")
	return c
}
