package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"reachgate/lab/wan"
)

// newWANCommand is the WAN emulation element's daemon (delay, jitter, loss on one link);
// the lab starts it inside the router namespace that holds the impaired link's end.
func newWANCommand() *cobra.Command {
	var spec string
	c := &cobra.Command{
		Use:    "wan --spec FILE",
		Short:  "Run a WAN emulation element (delay, jitter, loss) in the current network namespace",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec == "" {
				return fmt.Errorf("--spec FILE is required (a JSON file such as {\"interface\": \"l0\", \"delay\": \"15ms\"})")
			}
			return wan.Run(cmd.Context(), spec, slog.Default())
		},
	}
	c.Flags().StringVar(&spec, "spec", "", "element spec file (JSON)")
	c.AddCommand(newWANSelfCheckCommand())
	return c
}

type wanSelfCheckFlags struct {
	profiles []string
	samples  int
	prefix   string
}

func newWANSelfCheckCommand() *cobra.Command {
	f := wanSelfCheckFlags{}
	c := &cobra.Command{
		Use:   "selfcheck",
		Short: "Measure configured vs real round trips of the WAN profiles in throw-away namespaces (root)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("wan selfcheck creates network namespaces: run it as root")
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "WAN element self-check: chain %s-a — %s-r —[impaired]— %s-b, %d samples each\n",
				f.prefix, f.prefix, f.prefix, f.samples)
			_, err = wan.SelfCheck(cmd.Context(), bin, f.prefix, f.profiles, f.samples, cmd.OutOrStdout())
			return err
		},
	}
	c.Flags().StringSliceVar(&f.profiles, "profile", []string{"same-metro", "cross-region", "intercontinental", "lossy-vpn"},
		"profiles to measure ("+strings.Join(wan.ProfileNames(), ", ")+")")
	c.Flags().IntVar(&f.samples, "samples", 30, "round trips measured per profile and protocol")
	c.Flags().StringVar(&f.prefix, "prefix", "rg-wsc", "name prefix of the check's namespaces")
	return c
}
