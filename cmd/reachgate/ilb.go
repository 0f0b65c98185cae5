package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"reachgate/lab/lb"
)

// newILBCommand is the health-checker daemon of one internal load balancer; the lab starts
// it inside the VPC router namespace that holds the LB's VIP.
func newILBCommand() *cobra.Command {
	var spec string
	c := &cobra.Command{
		Use:    "ilb",
		Short:  "Run an internal load balancer's health checker in the current network namespace",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lb.Run(cmd.Context(), spec, slog.Default())
		},
	}
	c.Flags().StringVar(&spec, "spec", "", "load balancer spec file (JSON, or YAML)")
	_ = c.MarkFlagRequired("spec")
	return c
}
