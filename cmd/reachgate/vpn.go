package main

import (
	"encoding/json"
	"log/slog"

	"github.com/spf13/cobra"

	"reachgate/lab/vpn"
)

// newVPNCommand is the userspace WireGuard daemon of one VPN gateway side; the lab starts it
// inside the gateway's namespace.
func newVPNCommand() *cobra.Command {
	var spec string
	c := &cobra.Command{
		Use:    "vpn",
		Short:  "Run a VPN gateway's WireGuard tunnels in the current network namespace",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return vpn.Run(cmd.Context(), spec, slog.Default())
		},
	}
	c.Flags().StringVar(&spec, "spec", "", "gateway spec file (JSON); status goes to FILE.status.json")
	_ = c.MarkFlagRequired("spec")
	c.AddCommand(&cobra.Command{
		Use:   "keygen",
		Short: "Print a new WireGuard key pair as JSON {privateKey, publicKey}",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := vpn.GenerateKey()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(k)
		},
	})
	return c
}
