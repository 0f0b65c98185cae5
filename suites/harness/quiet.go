package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
)

// quietNice is the scheduling priority of a quiet spec's suite and environment while it
// measures (where the provider is a provider.Prioritizer). The other suites' labs stay up
// while it runs (their specs wait, their daemons do not): on two cores their kube-apiservers
// and etcds take a quarter of the machine in bursts, and a burst in front of a measured
// request adds tens of milliseconds. At nice -10 the kernel's scheduler gives this suite and
// its lab about nine times the weight of the others.
const quietNice = -10

// QuietLabel marks a spec whose verdict depends on timing (a latency budget, an emulated
// round trip): it runs alone on the machine. Suites run side by side (`reachgate e2e`), and
// on a laptop's few cores another suite's lab start-up or gcloud run adds tens of
// milliseconds to a measurement. A quiet spec takes the machine-wide measurement lock
// exclusively; every other spec, and each suite's provisioning and teardown, takes it
// shared. The quiet spec waits for the specs in flight to end and holds the others back at
// their next spec while it measures; a waiting quiet spec goes first (no new shared holder
// enters while it waits).
const QuietLabel = "quiet"

// BesideLabel, next to QuietLabel, marks a quiet spec that only measures and may run twice:
// its first attempt measures at once beside the other suites' specs, with this suite and its
// lab raised in priority as a quiet spec's are, and only when that attempt fails does the
// spec measure again alone (give it FlakeAttempts(2)). Load only adds time: a budget met
// beside other suites is met alone, and an emulated round trip that holds under load holds
// alone. Waiting for the machine to drain before every quiet spec was most of the suite run's
// wall time: in a run of 23 suites, 252 s of 567 s went to quiet specs waiting for the specs
// in flight to end, against 104 s of measuring alone.
const BesideLabel = "quiet-beside"

// lockDir is where the lock files live: REACHGATE_LOCK_DIR, or /run/reachgate (the labs'
// own directory), or the temporary directory.
func lockDir() string {
	if d := os.Getenv("REACHGATE_LOCK_DIR"); d != "" {
		return d
	}
	if os.MkdirAll("/run/reachgate", 0o755) == nil {
		return "/run/reachgate"
	}
	return os.TempDir()
}

// measureLock is this process's hold of the machine-wide lock: a turnstile file (a quiet
// spec holds it while it waits and measures, so shared holders queue behind it) and the
// lock itself.
type measureLock struct {
	mu         sync.Mutex
	gate, main *os.File
	held       int // 0 none, syscall.LOCK_SH or syscall.LOCK_EX
	dir        string
	openErr    error
	opened     bool
}

var machine measureLock

func (l *measureLock) open() error {
	if l.opened {
		return l.openErr
	}
	l.opened = true
	if l.dir == "" {
		l.dir = lockDir()
	}
	for _, f := range []struct {
		p    **os.File
		name string
	}{{&l.gate, "measure.turnstile"}, {&l.main, "measure.lock"}} {
		*f.p, l.openErr = os.OpenFile(filepath.Join(l.dir, f.name), os.O_CREATE|os.O_RDWR, 0o644)
		if l.openErr != nil {
			l.openErr = fmt.Errorf("measurement lock: %w", l.openErr)
			return l.openErr
		}
	}
	return nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// acquire takes the lock shared or (exclusive) alone, releasing an earlier hold first.
func (l *measureLock) acquire(exclusive bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.open(); err != nil {
		return err
	}
	l.releaseLocked()
	if err := flock(l.gate, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("measurement lock: %w", err)
	}
	if exclusive {
		if err := flock(l.main, syscall.LOCK_EX); err != nil {
			_ = flock(l.gate, syscall.LOCK_UN)
			return fmt.Errorf("measurement lock: %w", err)
		}
		l.held = syscall.LOCK_EX // the turnstile stays held until release
		return nil
	}
	err := flock(l.main, syscall.LOCK_SH)
	_ = flock(l.gate, syscall.LOCK_UN)
	if err != nil {
		return fmt.Errorf("measurement lock: %w", err)
	}
	l.held = syscall.LOCK_SH
	return nil
}

func (l *measureLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked()
}

func (l *measureLock) releaseLocked() {
	if l.held == 0 {
		return
	}
	_ = flock(l.main, syscall.LOCK_UN)
	if l.held == syscall.LOCK_EX {
		_ = flock(l.gate, syscall.LOCK_UN)
	}
	l.held = 0
}

// quiet reports whether a spec with these labels measures time.
func quiet(labels []string) bool { return slices.Contains(labels, QuietLabel) }

// measureMode is how a spec holds the measurement lock on this attempt: alone (exclusive)
// and raised in priority for a quiet spec; for a quiet spec labelled BesideLabel, shared and
// raised on its first attempt, alone on a later one; shared for every other spec.
func measureMode(labels []string, attempt int) (alone, raise bool) {
	if !quiet(labels) {
		return false, false
	}
	if slices.Contains(labels, BesideLabel) && attempt <= 1 {
		return false, true
	}
	return true, true
}
