package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"reachgate/framework/findings"
	"reachgate/framework/lint"
)

// lintFlags are `reachgate lint`'s flags.
type lintFlags struct {
	format      string
	failOn      string
	nginxPrefix string
	catalog     bool
}

func newLintCommand() *cobra.Command {
	var f lintFlags
	c := &cobra.Command{
		Use:   "lint [FILE|DIR]...",
		Short: "Check nginx configs, kubeconfigs, manifests, scripts and topologies for known defects, without a cluster",
		Long: "Reads each FILE, and every file under each DIR (recursively; files of unknown kind are skipped),\n" +
			"and reports the known defects of reachgate's findings catalog with file and line:\n" +
			"  *.conf, *.conf.tmpl                nginx configuration (includes followed)\n" +
			"  *kubeconfig*, YAML of kind Config  kubeconfig or kubeconfig template\n" +
			"  *.yaml, *.yml, *.json              Kubernetes manifests (multi-document), or a reachgate topology\n" +
			"  *.sh, #! scripts                   kubectl and openssl commands\n" +
			"Exit status: 0 clean, 1 a finding at or above --fail-on, 2 a file that cannot be read or parsed.\n" +
			"--fail-on defaults to high: high and critical findings break the solution or expose credentials;\n" +
			"medium and below are reported and should be fixed, but do not fail the gate.",
		Example: "  reachgate lint fixtures/seed/\n  reachgate lint --format sarif nginx.conf rbac.yaml > lint.sarif\n  reachgate lint --catalog",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args)
		},
	}
	c.Flags().StringVar(&f.format, "format", "text", "output format: "+strings.Join(lint.Formats, ", "))
	c.Flags().StringVar(&f.failOn, "fail-on", "high", "exit 1 when a finding is at or above this severity: info, low, medium, high, critical, or none")
	c.Flags().StringVar(&f.nginxPrefix, "nginx-prefix", "", "directory relative nginx include paths start from (default: the including file's directory)")
	c.Flags().BoolVar(&f.catalog, "catalog", false, "print the findings catalog (ID, severity, title, detectors, fix) and exit")
	return c
}

func runLint(stdout, stderr io.Writer, f lintFlags, args []string) error {
	if f.catalog {
		return printCatalog(stdout)
	}
	threshold := findings.Critical + 1
	if f.failOn != "none" {
		s, err := findings.ParseSeverity(f.failOn)
		if err != nil {
			fmt.Fprintf(stderr, "reachgate lint: --fail-on: %v, or none\n", err)
			return exitError{2}
		}
		threshold = s
	}
	if !validFormat(f.format) {
		fmt.Fprintf(stderr, "reachgate lint: --format %q: choose one of %s\n", f.format, strings.Join(lint.Formats, ", "))
		return exitError{2}
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "reachgate lint: name the files or directories to check (e.g. reachgate lint fixtures/seed/)")
		return exitError{2}
	}
	res, err := lint.Paths(args, lint.Options{NginxPrefix: f.nginxPrefix})
	if err != nil {
		fmt.Fprintf(stderr, "reachgate lint: %v\n", err)
		return exitError{2}
	}
	if err := lint.WriteReport(stdout, res, f.format); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if errs := res.Errors(); len(errs) > 0 {
		if f.format != "text" { // text already lists them on stdout
			for _, e := range errs {
				fmt.Fprintf(stderr, "reachgate lint: %v\n", e)
			}
		}
		return exitError{2}
	}
	if findings.AtLeast(res.Findings(), threshold) {
		return exitError{1}
	}
	return nil
}

func validFormat(s string) bool {
	for _, f := range lint.Formats {
		if s == f {
			return true
		}
	}
	return false
}

func printCatalog(w io.Writer) error {
	var errs []error
	for _, e := range findings.Catalog() {
		_, err := fmt.Fprintf(w, "%s %s %s\n  detectors: %s\n  fix: %s\n", e.ID, e.Severity, e.Title, strings.Join(e.Detectors, ", "), e.Fix)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
