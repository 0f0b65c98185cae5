package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"reachgate/fixtures"
	"reachgate/framework/probe"
)

// probeFlags are the flags of `reachgate probe`.
type probeFlags struct {
	url, ca, serverName, tokenFile, kubeconfig string
	samples                                    int
	checks, paths                              string
	budgets, profile                           string
	tcp                                        string
	timeout                                    time.Duration
}

func newProbeCommand() *cobra.Command {
	var f probeFlags
	c := &cobra.Command{
		Use:   "probe --url https://IP --ca FILE [flags]",
		Short: "Check an API server endpoint from where this runs: HTTP, TLS, versions, latency, kubectl; one JSON object on stdout",
		Long: "Runs the selected checks against the endpoint and prints one JSON report (no secrets) on stdout.\n" +
			"Exit status: 0 when every check and budget passes, 1 when one fails, 2 for bad input.\n" +
			"Without --url, the server, CA, tls-server-name and token come from --kubeconfig's current context.\n" +
			"kubectl runs as `reachgate kubectl` (embedded) with --kubeconfig.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProbe(cmd.Context(), f, os.Stdout)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.url, "url", "", "endpoint, https://HOST[:PORT]")
	fl.StringVar(&f.ca, "ca", "", "PEM CA bundle the server certificate must chain to")
	fl.StringVar(&f.serverName, "server-name", "", "name the certificate must cover (kubeconfig tls-server-name; default: the URL's host)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding a bearer token for /api/v1/nodes")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for the kubectl checks (and the endpoint when --url is not given)")
	fl.IntVar(&f.samples, "samples", 200, "latency samples per path")
	fl.StringVar(&f.checks, "checks", "", "comma-separated: "+strings.Join(probe.Groups, ",")+" (default: all; kubectl only with --kubeconfig)")
	fl.StringVar(&f.paths, "paths", strings.Join(probe.DefaultPaths, ","), "paths the latency check samples")
	fl.StringVar(&f.budgets, "budgets", "", "budgets file (default: the embedded fixtures/budgets.yaml)")
	fl.StringVar(&f.tcp, "tcp", "", "only connect to HOST:PORT and print the TCP result (outcome Connected, Timeout, Refused, Unreachable or Failed); exit 1 unless Connected")
	fl.DurationVar(&f.timeout, "timeout", 3*time.Second, "connect deadline of --tcp")
	fl.StringVar(&f.profile, "profile", "none", "network profile of the budgets (none, same-metro, cross-region, intercontinental, lossy-vpn, ...)")
	return c
}

func badInput(format string, a ...any) error {
	fmt.Fprintf(os.Stderr, "reachgate probe: "+format+"\n", a...)
	return exitError{2}
}

func runProbe(ctx context.Context, f probeFlags, stdout io.Writer) error {
	if f.tcp != "" {
		return runProbeTCP(ctx, f, stdout)
	}
	o := probe.Options{URL: f.url, ServerName: f.serverName, Samples: f.samples, Profile: f.profile, Kubeconfig: f.kubeconfig}
	if f.ca != "" {
		data, err := os.ReadFile(f.ca)
		if err != nil {
			return badInput("--ca: %v", err)
		}
		o.CAPEM = data
	}
	if f.tokenFile != "" {
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return badInput("--token-file: %v", err)
		}
		o.Token = strings.TrimSpace(string(data))
	}
	if f.kubeconfig != "" {
		if err := fromKubeconfig(f.kubeconfig, &o); err != nil {
			return badInput("--kubeconfig %s: %v", f.kubeconfig, err)
		}
	}
	if o.URL == "" || len(o.CAPEM) == 0 {
		return badInput("give --url and --ca (or a --kubeconfig whose cluster has server and certificate-authority-data)")
	}
	groups, err := probe.ParseGroups(f.checks)
	if err != nil {
		return badInput("--checks: %v", err)
	}
	o.Groups = groups
	for _, p := range strings.Split(f.paths, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.Paths = append(o.Paths, p)
		}
	}
	if f.budgets != "" {
		o.Budgets, err = probe.LoadBudgetsFile(f.budgets)
	} else {
		o.Budgets, err = probe.ParseBudgets("embedded:fixtures/budgets.yaml", fixtures.Budgets())
	}
	if err != nil {
		return badInput("%v", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o.Kubectl = func(ctx context.Context, args ...string) (string, error) {
		var out, errb strings.Builder
		cmd := exec.CommandContext(ctx, self, append([]string{"kubectl"}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
		return out.String(), nil
	}
	var d net.Dialer
	rep, err := probe.Run(ctx, &d, o)
	if err != nil {
		return badInput("%v", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if !rep.Pass {
		for _, c := range rep.Checks {
			if !c.Pass {
				fmt.Fprintf(os.Stderr, "FAIL %s: %s\n", c.Name, c.Reason)
			}
		}
		for _, v := range rep.Budget {
			if !v.Pass {
				fmt.Fprintf(os.Stderr, "FAIL budget %s\n", v.Text)
			}
		}
		return exitError{1}
	}
	return nil
}

// runProbeTCP is `reachgate probe --tcp`: one connect, its result as JSON.
func runProbeTCP(ctx context.Context, f probeFlags, stdout io.Writer) error {
	if _, _, err := net.SplitHostPort(f.tcp); err != nil {
		return badInput("--tcp %q: give HOST:PORT (%v)", f.tcp, err)
	}
	if f.timeout <= 0 {
		return badInput("--timeout %s: give a positive duration, e.g. 3s", f.timeout)
	}
	var d net.Dialer
	res := probe.TCP(ctx, &d, f.tcp, f.timeout)
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return err
	}
	if res.Outcome != probe.Connected {
		return exitError{1}
	}
	return nil
}

// fromKubeconfig fills what the flags left empty from the current context.
func fromKubeconfig(path string, o *probe.Options) error {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return err
	}
	kctx := cfg.Contexts[cfg.CurrentContext]
	if kctx == nil {
		return fmt.Errorf("no current context %q", cfg.CurrentContext)
	}
	if cl := cfg.Clusters[kctx.Cluster]; cl != nil {
		if o.URL == "" {
			o.URL = cl.Server
		}
		if len(o.CAPEM) == 0 {
			o.CAPEM = cl.CertificateAuthorityData
			if len(o.CAPEM) == 0 && cl.CertificateAuthority != "" {
				if o.CAPEM, err = os.ReadFile(cl.CertificateAuthority); err != nil {
					return err
				}
			}
		}
		if o.ServerName == "" {
			o.ServerName = cl.TLSServerName
		}
	}
	if u := cfg.AuthInfos[kctx.AuthInfo]; u != nil && o.Token == "" {
		o.Token = u.Token
		if o.Token == "" && u.TokenFile != "" {
			data, err := os.ReadFile(u.TokenFile)
			if err != nil {
				return err
			}
			o.Token = strings.TrimSpace(string(data))
		}
	}
	return nil
}
