package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"reachgate/lab/binaries"
	"reachgate/lab/rootless"
)

// How a command runs for a user who is not root (see lab/rootless).
const (
	// rootlessCreate commands run inside the user's lab namespaces, started when none are held.
	rootlessCreate = "create"
	// rootlessEnter commands run inside them when they are held, and here otherwise.
	rootlessEnter = "enter"
)

// rootlessCommands are the commands that make or read a lab, by command path. The daemons the
// lab starts are not here: they run inside already. e2e builds its suites first and then
// enters (see newE2ECommand).
var rootlessCommands = map[string]string{
	"reachgate lab up":          rootlessCreate,
	"reachgate wan selfcheck":   rootlessCreate,
	"reachgate lab down":        rootlessEnter,
	"reachgate lab gc":          rootlessEnter,
	"reachgate lab exec":        rootlessEnter,
	"reachgate lab status":      rootlessEnter,
	"reachgate lab explain":     rootlessEnter,
	"reachgate lab env":         rootlessEnter,
	"reachgate solution apply":  rootlessEnter,
	"reachgate solution remove": rootlessEnter,
	"reachgate gate snapshot":   rootlessEnter,
	"reachgate gate check":      rootlessEnter,
	"reachgate bench":           rootlessEnter,
	"reachgate gcp import":      rootlessEnter,
	"reachgate gcp janitor":     rootlessEnter,
	"reachgate gcp provision":   rootlessEnter,
	"reachgate gcp teardown":    rootlessEnter,
}

// rootlessMode is how cmd runs without root: "" when it never needs the lab's namespaces (it
// does not read a lab, or its --provider is not the lab, or gcp import reads Google's API).
// The same commands run in the user's lab container with the container runtime.
func rootlessMode(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("provider"); f != nil && f.Value.String() != "lab" {
		return ""
	}
	if f := cmd.Flags().Lookup("gcp-lab"); f != nil && f.Value.String() == "" {
		return ""
	}
	return rootlessCommands[cmd.CommandPath()]
}

// rootlessMain runs the hidden entry points of lab/rootless (the namespace holder, the probe).
func rootlessMain() {
	if handled, code := rootless.Main(os.Args[1:]); handled {
		os.Exit(code)
	}
}

// maybeRootless runs cmd inside the user's lab namespaces when the user is not root. It
// returns handled=true with the command's exit status as the error (nil for 0) when it did.
func maybeRootless(cmd *cobra.Command, mode string) (handled bool, err error) {
	if mode == "" || !rootless.Needed() {
		return false, nil
	}
	if mode == rootlessCreate {
		// The lab binaries are built out here: the namespaces have no network for Go's modules.
		if _, err := binaries.Ensure(cmd.Context(), slog.Default()); err != nil {
			return true, err
		}
	}
	code, err := rootless.Run(cmd.Context(), os.Args[1:], mode == rootlessCreate, cmd.ErrOrStderr())
	if errors.Is(err, rootless.ErrNoHolder) {
		switch cmd.CommandPath() {
		case "reachgate lab gc":
			fmt.Fprintln(cmd.OutOrStdout(), "no rootless lab namespaces are held for this user; nothing to collect")
			return true, nil
		case "reachgate lab status", "reachgate lab down":
			fmt.Fprintln(cmd.OutOrStdout(), "no lab is up for this user")
			return true, nil
		}
		return true, errors.New("no lab is up for this user: without root, labs live in the user's own namespaces; start one with reachgate lab up")
	}
	if err != nil {
		return true, err
	}
	if code != 0 {
		return true, exitError{code}
	}
	return true, nil
}

// rootlessHolder is the PID of the namespace holder this command runs under, or "".
func rootlessHolder() string { return os.Getenv(rootless.HolderEnv) }
