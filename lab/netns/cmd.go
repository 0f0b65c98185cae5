package netns

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
)

// CommandError carries the failed command and what it printed.
type CommandError struct {
	Args   []string
	Output string
	Err    error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Output))
}

func (e *CommandError) Unwrap() error { return e.Err }

// commandsStarted counts the processes run started (the lab's reconciles are measured by it).
var commandsStarted atomic.Int64

// run executes a command and returns its combined output; a failure is a *CommandError.
func run(ctx context.Context, stdin string, args ...string) (string, error) {
	commandsStarted.Add(1)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), &CommandError{Args: args, Output: out.String(), Err: err}
	}
	return out.String(), nil
}

// batch collects `ip` commands for one namespace and runs them in one `ip -batch`.
type batch struct {
	ns    string
	lines []string
}

func (b *batch) add(format string, a ...any) { b.lines = append(b.lines, fmt.Sprintf(format, a...)) }

func (b *batch) run(ctx context.Context) error {
	if len(b.lines) == 0 {
		return nil
	}
	args := []string{"ip"}
	if b.ns != "" {
		args = append(args, "-n", b.ns)
	}
	args = append(args, "-batch", "-")
	_, err := run(ctx, strings.Join(b.lines, "\n")+"\n", args...)
	if err != nil {
		return fmt.Errorf("configure namespace %q: %w", b.ns, err)
	}
	return nil
}

// ListNamespaces returns the named network namespaces of the machine.
func ListNamespaces(ctx context.Context) ([]string, error) {
	out, err := run(ctx, "", "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// Batch runs `ip` commands (one per line, without the leading "ip") in namespace ns.
func Batch(ctx context.Context, ns, script string) error {
	b := &batch{ns: ns}
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		b.add("%s", line)
	}
	return b.run(ctx)
}

// Output runs a command and returns its combined output.
func Output(ctx context.Context, args ...string) (string, error) { return run(ctx, "", args...) }

// Nft runs an nft script (`nft -f -`) in namespace ns and returns nft's output.
func Nft(ctx context.Context, ns, script string) (string, error) {
	return run(ctx, script, "nsenter", "--net="+NamespacePath(ns), "nft", "-f", "-")
}
