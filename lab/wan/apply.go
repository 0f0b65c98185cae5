package wan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"reachgate/lab/netns"
)

// Starter starts a daemon inside a namespace and records it; *netns.State is one.
type Starter interface {
	Start(spec netns.StartSpec) (netns.Process, error)
}

// attachTimeout bounds the wait for a started daemon to attach to its TUN devices.
const attachTimeout = 10 * time.Second

// Command is the command line of the element's daemon; start it inside l.Namespace.
func Command(bin, specPath string) []string { return []string{bin, "wan", "--spec", specPath} }

// ProcessName is the name Apply records the daemon under, unique per lab.
func ProcessName(l Link) string { return "wan-" + l.Namespace + "-" + l.Interface }

// SpecPath is where Apply writes the spec of l's element under dir.
func SpecPath(dir string, l Link) string {
	return filepath.Join(dir, "wan-"+l.Namespace+"-"+l.Interface+".json")
}

// Apply impairs l on a live namespace: it writes the spec under dir, creates the TUN
// devices, starts `bin wan --spec FILE` in the namespace through st (which records the
// process), waits until it serves both devices, and steers the link's traffic through it.
// On failure nothing stays behind. Remove undoes it.
func Apply(ctx context.Context, st Starter, bin, dir string, l Link, imp Impairment) (netns.Process, error) {
	spec := Spec{Interface: l.Interface, Impairment: imp}
	path := SpecPath(dir, l)
	if err := WriteSpec(path, spec); err != nil {
		return netns.Process{}, fmt.Errorf("impair %s: %w", l, err)
	}
	if err := Prepare(ctx, l); err != nil {
		return netns.Process{}, errors.Join(err, Destroy(context.WithoutCancel(ctx), l))
	}
	argv := Command(bin, path)
	p, err := st.Start(netns.StartSpec{Name: ProcessName(l), Namespace: l.Namespace, Path: argv[0], Args: argv[1:]})
	if err != nil {
		return netns.Process{}, errors.Join(fmt.Errorf("impair %s: %w", l, err), Destroy(context.WithoutCancel(ctx), l))
	}
	fail := func(err error) (netns.Process, error) {
		return netns.Process{}, errors.Join(err, Remove(context.WithoutCancel(ctx), l, p))
	}
	deadline := time.Now().Add(attachTimeout)
	for !Attached(ctx, l) {
		if !p.Running() || time.Now().After(deadline) || ctx.Err() != nil {
			return fail(fmt.Errorf("impair %s: the wan daemon (pid %d) did not attach to its TUN devices within %v; its log %s ends: %s",
				l, p.PID, attachTimeout, p.Log, logTail(p.Log)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := Steer(ctx, l, imp); err != nil {
		return fail(err)
	}
	return p, nil
}

// Update changes a running element's impairment: it rewrites the spec and signals the
// daemon (new packets get the new delay at once), and adjusts the rate limit.
func Update(ctx context.Context, dir string, l Link, p netns.Process, imp Impairment) error {
	if !p.Running() {
		return fmt.Errorf("update %s: the wan daemon (pid %d) is not running; Remove and Apply again", l, p.PID)
	}
	if err := WriteSpec(SpecPath(dir, l), Spec{Interface: l.Interface, Impairment: imp}); err != nil {
		return fmt.Errorf("update %s: %w", l, err)
	}
	if err := syscall.Kill(p.PID, syscall.SIGHUP); err != nil {
		return fmt.Errorf("update %s: signal the wan daemon: %w", l, err)
	}
	n, err := l.numbers(ctx)
	if err != nil {
		return err
	}
	return shape(ctx, l, n, imp.Rate)
}

// Remove undoes Apply: the link carries traffic directly first, then the daemon stops and
// the TUN devices go. The caller drops p from its state.
func Remove(ctx context.Context, l Link, p netns.Process) error {
	errs := []error{Unsteer(ctx, l)}
	if err := p.Stop(ctx, 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, Destroy(ctx, l))
	return errors.Join(errs...)
}

func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}
