package probe

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// KubectlRunner runs kubectl with args where the probe stands (provider.Host.Kubectl, or
// the embedded kubectl in a child process) and returns its stdout; a failure's error wraps
// the *exec.ExitError and carries stderr.
type KubectlRunner func(ctx context.Context, args ...string) (string, error)

// KubectlResult is one kubectl invocation.
type KubectlResult struct {
	Args     []string `json:"args"`
	Output   string   `json:"output"`
	ExitCode int      `json:"exitCode"`
	Duration Ms       `json:"durationMs"`
	Error    string   `json:"error,omitempty"`
	Check    Check    `json:"check"`
}

// KubectlCall is one invocation and what its exit code must be.
type KubectlCall struct {
	Name     string
	Args     []string
	WantExit int
}

// DefaultKubectlCalls are the calls `reachgate probe` makes: what a third-party VM needs
// to work, and that the token is not an administrator's.
var DefaultKubectlCalls = []KubectlCall{
	{Name: "kubectl-get-nodes", Args: []string{"get", "nodes"}},
	{Name: "kubectl-cluster-info", Args: []string{"cluster-info"}},
	{Name: "kubectl-can-i-list-nodes", Args: []string{"auth", "can-i", "list", "nodes"}},
	{Name: "kubectl-cannot-create-pods", Args: []string{"auth", "can-i", "create", "pods"}, WantExit: 1},
}

// Kubectl runs each call with the kubeconfig (and a request timeout) and judges its exit code.
func Kubectl(ctx context.Context, run KubectlRunner, kubeconfig string, calls []KubectlCall) []KubectlResult {
	var out []KubectlResult
	for _, c := range calls {
		args := append([]string{"--kubeconfig", kubeconfig, "--request-timeout=10s"}, c.Args...)
		start := time.Now()
		stdout, err := run(ctx, args...)
		r := KubectlResult{Args: c.Args, Output: strings.TrimRight(stdout, "\n"), Duration: ToMs(time.Since(start))}
		if err != nil {
			r.Error = err.Error()
			r.ExitCode = -1
			var xe *exec.ExitError
			if errors.As(err, &xe) {
				r.ExitCode = xe.ExitCode()
			}
		}
		cmd := "kubectl " + strings.Join(c.Args, " ")
		if r.ExitCode == c.WantExit {
			r.Check = Check{Name: c.Name, Pass: true, Reason: fmt.Sprintf("%s exited %d in %v", cmd, r.ExitCode, r.Duration)}
		} else {
			r.Check = Check{Name: c.Name, Reason: fmt.Sprintf("%s exited %d; want %d: %s", cmd, r.ExitCode, c.WantExit, firstLine(r.Error+" "+r.Output))}
		}
		out = append(out, r)
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
