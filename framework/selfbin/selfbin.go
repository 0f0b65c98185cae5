// Package selfbin finds the reachgate binary that probes and kubectl run from at a host's
// position: the one the process recorded with Use (the reachgate command itself),
// $REACHGATE_BIN, or a build of ./cmd/reachgate from this checkout.
package selfbin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"reachgate/framework/checkout"
)

var (
	once   sync.Once
	path   string
	errBin error
)

// Path returns the reachgate binary, building it once per process when neither Use nor
// $REACHGATE_BIN names one.
func Path(ctx context.Context, log *slog.Logger) (string, error) {
	once.Do(func() { path, errBin = find(ctx, log) })
	return path, errBin
}

// Use records p as the reachgate binary for the rest of the process (the reachgate command
// names its own executable); it has no effect once Path has answered.
func Use(p string) {
	once.Do(func() { path, errBin = filepath.Abs(p) })
}

// cacheDir is $REACHGATE_CACHE, else $XDG_CACHE_HOME/reachgate, else ~/.cache/reachgate:
// the directory the lab caches its binaries in too.
func cacheDir() string {
	if d := os.Getenv("REACHGATE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "reachgate")
	}
	return filepath.Join(os.TempDir(), "reachgate-cache")
}

func find(ctx context.Context, log *slog.Logger) (string, error) {
	if p := os.Getenv("REACHGATE_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("REACHGATE_BIN=%s: %w (build it with 'make build')", p, err)
		}
		return abs, nil
	}
	root, err := checkout.Root()
	if err != nil {
		return "", fmt.Errorf("%w; set REACHGATE_BIN", err)
	}
	out := filepath.Join(cacheDir(), "reachgate-test", "reachgate")
	log.Info("building reachgate for the suites (set REACHGATE_BIN to skip)", "into", out)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/reachgate")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build reachgate: %w\n%s", err, b)
	}
	log.Info("reachgate built", "seconds", int(time.Since(start).Seconds()))
	return out, nil
}
