package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"reachgate/lab/proxy"
)

// newProxyCommand runs reachgate's own reverse proxy; the lab starts it
// inside the proxy pods' network namespaces.
func newProxyCommand() *cobra.Command {
	var configFile string
	c := &cobra.Command{
		Use:    "proxy",
		Short:  "Run the Solution 1 reverse proxy (l7 re-encrypt or l4 passthrough) until interrupted",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// In the lab a container's files live under REACHGATE_ROOT: absolute paths in
			// the flag and in the config are taken inside it, as in the container.
			root := os.Getenv("REACHGATE_ROOT")
			cfg, err := proxy.LoadConfig(filepath.Join(root, configFile))
			if err != nil {
				return err
			}
			if root != "" {
				for _, p := range []*string{&cfg.CertFile, &cfg.KeyFile, &cfg.UpstreamCAFile} {
					if *p != "" && !strings.HasPrefix(*p, root) {
						*p = filepath.Join(root, *p)
					}
				}
			}
			return proxy.Run(cmd.Context(), cfg, slog.Default())
		},
	}
	c.Flags().StringVar(&configFile, "config", "", "proxy config file (YAML or JSON)")
	_ = c.MarkFlagRequired("config")
	return c
}
