package nginx

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	"reachgate/lab/netns"
)

// Command returns the argv that runs the instance in the foreground: a private mount
// namespace (so nothing is ever mounted in the caller's), the instance dirs bind-mounted
// over the container paths, then `nginx -g 'daemon off;'` exec'd so the PID the caller
// starts is nginx's master. The caller wraps it in `nsenter --net` for the pod's network.
// Errors before the config is read go to stderr (Debian's compiled-in error log).
func (i *Instance) Command() []string { return i.argv("-g", "daemon off;") }

// Test runs `nginx -t` against the instance's config the same way as Command and returns
// what it printed (warnings such as the deprecated `ssl on;` included).
func (i *Instance) Test(ctx context.Context) (string, error) {
	argv := i.argv("-t")
	out, err := combined(ctx, argv)
	if err != nil {
		return out, fmt.Errorf("test nginx config in %s: %w", i.Dir, &netns.CommandError{Args: argv, Output: out, Err: err})
	}
	return out, nil
}

// argv builds `unshare --mount --propagation private -- /bin/sh -c 'mount…; exec nginx ARGS'`.
func (i *Instance) argv(nginxArgs ...string) []string {
	var script []string
	for _, t := range targets {
		script = append(script, "mount --bind "+quote(i.Path(t))+" "+quote(t))
	}
	run := []string{"exec", quote(lookPath("nginx", "/usr/sbin/nginx"))}
	for _, a := range nginxArgs {
		run = append(run, quote(a))
	}
	script = append(script, strings.Join(run, " "))
	return []string{
		lookPath("unshare", "/usr/bin/unshare"), "--mount", "--propagation", "private", "--",
		"/bin/sh", "-c", strings.Join(script, " && "),
	}
}

// versionRE matches `nginx -v` output: "nginx version: nginx/1.22.1".
var versionRE = regexp.MustCompile(`nginx/(\S+)`)

// Version returns the installed nginx version, e.g. "1.22.1".
func Version(ctx context.Context) (string, error) {
	argv := []string{lookPath("nginx", "/usr/sbin/nginx"), "-v"}
	out, err := combined(ctx, argv)
	if err != nil {
		return "", fmt.Errorf("read nginx version: %w", &netns.CommandError{Args: argv, Output: out, Err: err})
	}
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("read nginx version: unexpected output %q", strings.TrimSpace(out))
	}
	return m[1], nil
}

func combined(ctx context.Context, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// lookPath resolves a program so the argv does not depend on the PATH of whoever runs it
// (nsenter, sh); fallback is Debian's location.
func lookPath(name, fallback string) string {
	if p, err := exec.LookPath(name); err == nil && strings.HasPrefix(p, "/") {
		return p
	}
	return fallback
}

// quote makes s one single-quoted shell word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
