package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"reachgate/lab/netns"
)

// ReadyTimeout is how long Start waits for a new redis-server to answer PING.
var ReadyTimeout = 15 * time.Second

// debianServer is where Debian's redis-server package installs the server.
var debianServer = "/usr/bin/redis-server"

// serverPath finds the system redis-server: on the PATH, else where Debian puts it.
func serverPath() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil && strings.HasPrefix(p, "/") {
		return p, nil
	}
	if _, err := os.Stat(debianServer); err == nil {
		return debianServer, nil
	}
	return "", errors.New("redis-server not found: install Debian's redis-server (apt-get install redis-server; the lab runs it for managed-service hosts)")
}

// Start makes an instance run in its host's namespace ns ("": this process's own): it prepares the instance's files,
// starts redis-server on its redis.conf as a process recorded in st (named ProcessName(host),
// output in its log), and waits until it answers PING (after AUTH, over TLS verified against the
// instance's CA). An instance whose recorded process still runs is only checked to answer.
func Start(ctx context.Context, st *netns.State, ns string, i Instance, log *slog.Logger) (netns.Process, error) {
	for _, p := range st.Processes {
		if p.Name == ProcessName(i.Host) && p.Running() {
			if err := Ping(ctx, dialerIn(ns), i); err != nil {
				return p, fmt.Errorf("redis instance %s (pid %d) does not answer: %w (log: %s)", i.Host, p.PID, err, p.Log)
			}
			return p, nil
		}
	}
	bin, err := serverPath()
	if err != nil {
		return netns.Process{}, err
	}
	if err := Prepare(i); err != nil {
		return netns.Process{}, err
	}
	p, err := st.Start(netns.StartSpec{Name: ProcessName(i.Host), Namespace: ns, Path: bin, Args: i.Args(), Dir: i.Dir})
	if err != nil {
		return p, err
	}
	start := time.Now()
	if err := waitReady(ctx, ns, i, p); err != nil {
		return p, err
	}
	log.Info("redis instance up", "host", i.Host, "at", i.Addr().String(), "tls", i.TLS, "auth", i.Auth,
		"pid", p.PID, "seconds", fmt.Sprintf("%.2f", time.Since(start).Seconds()))
	return p, nil
}

// Ping connects to the instance from dial's position as a client does (TLS against the
// instance's CA, AUTH) and sends PING.
func Ping(ctx context.Context, dial netns.DialFunc, i Instance) error {
	cred, err := Read(i)
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if i.TLS {
		if tlsCfg, err = ClientTLS(cred.CAPEM, i.IP); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := Dial(ctx, dial, i.Addr(), tlsCfg, cred.Auth)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.Do(ctx, "PING")
	if err != nil {
		return err
	}
	if v != "PONG" {
		return fmt.Errorf("PING answered %q, want PONG", v)
	}
	return nil
}

// waitReady polls the new process with Ping until it answers, it exits, or ReadyTimeout passes.
func waitReady(ctx context.Context, ns string, i Instance, p netns.Process) error {
	dial := dialerIn(ns)
	deadline := time.Now().Add(ReadyTimeout)
	var last error
	for {
		if !p.Running() {
			return fmt.Errorf("redis-server of host %s exited at start; last lines of %s:\n%s", i.Host, p.Log, tail(p.Log, 15))
		}
		if last = Ping(ctx, dial, i); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server of host %s does not answer PING at %s after %v: %v; last lines of %s:\n%s",
				i.Host, i.Addr(), ReadyTimeout, last, p.Log, tail(p.Log, 15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dialerIn dials from namespace ns, or from this process's own with ns "".
func dialerIn(ns string) netns.DialFunc {
	if ns == "" {
		var d net.Dialer
		return d.DialContext
	}
	return netns.Dialer(ns)
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
