// Package binaries builds the lab's kube-apiserver and etcd from the nested module in
// lab/kubebin (the only place their versions are pinned) into a cache directory, and
// rebuilds only when that module's inputs or the Go toolchain change.
package binaries

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/modfile"
)

// Set holds the paths of the lab binaries.
type Set struct {
	APIServer string
	Etcd      string
	// KubernetesVersion and EtcdVersion are read from lab/kubebin/go.mod.
	KubernetesVersion string
	EtcdVersion       string
}

// SourceDir finds lab/kubebin: $REACHGATE_KUBEBIN_SRC, or above the working directory, or
// above the running executable; else the copy embedded in this binary, unpacked in the cache.
func SourceDir() (string, error) {
	if d := os.Getenv("REACHGATE_KUBEBIN_SRC"); d != "" {
		return d, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			cand := filepath.Join(d, "lab", "kubebin")
			if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
				return cand, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	dir, err := embeddedSource()
	if err != nil {
		return "", fmt.Errorf("no lab/kubebin above the working directory or the executable, and %w (run from the reachgate checkout or set REACHGATE_KUBEBIN_SRC)", err)
	}
	return dir, nil
}

// CacheDir is $REACHGATE_CACHE, else $XDG_CACHE_HOME/reachgate, else ~/.cache/reachgate.
func CacheDir() string {
	if d := os.Getenv("REACHGATE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "reachgate")
	}
	return filepath.Join(os.TempDir(), "reachgate-cache")
}

// Versions reads the pinned versions from the module's go.mod.
func Versions(src string) (k8s, etcd string, err error) {
	path := filepath.Join(src, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		return "", "", err
	}
	for _, r := range f.Require {
		switch r.Mod.Path {
		case "k8s.io/kubernetes":
			k8s = r.Mod.Version
		case "go.etcd.io/etcd/server/v3":
			etcd = r.Mod.Version
		}
	}
	if k8s == "" || etcd == "" {
		return "", "", fmt.Errorf("%s: k8s.io/kubernetes and go.etcd.io/etcd/server/v3 must be required there", path)
	}
	return k8s, etcd, nil
}

// Ensure returns the binaries, building them first if the cache lacks this version.
// $REACHGATE_KUBE_APISERVER and $REACHGATE_ETCD point at prebuilt binaries instead.
func Ensure(ctx context.Context, log *slog.Logger) (Set, error) {
	return EnsureFor(ctx, log, runtime.GOOS)
}

// EnsureFor is Ensure for another operating system's binaries: "linux" on a Mac builds the
// kube-apiserver and etcd a lab container runs (cached under their own key).
func EnsureFor(ctx context.Context, log *slog.Logger, goos string) (Set, error) {
	if a, e := os.Getenv("REACHGATE_KUBE_APISERVER"), os.Getenv("REACHGATE_ETCD"); a != "" && e != "" {
		set := Set{APIServer: a, Etcd: e, KubernetesVersion: "(prebuilt)", EtcdVersion: "(prebuilt)"}
		if src, err := SourceDir(); err == nil {
			if k, e, err := Versions(src); err == nil {
				set.KubernetesVersion, set.EtcdVersion = k, e
			}
		}
		return set, nil
	}
	src, err := SourceDir()
	if err != nil {
		return Set{}, err
	}
	k8s, etcd, err := Versions(src)
	if err != nil {
		return Set{}, err
	}
	key, err := inputKeyFor(ctx, src, goos)
	if err != nil {
		return Set{}, err
	}
	out := filepath.Join(CacheDir(), "kubebin", k8s+"-"+key[:12])
	set := Set{APIServer: filepath.Join(out, "kube-apiserver"), Etcd: filepath.Join(out, "etcd"), KubernetesVersion: k8s, EtcdVersion: etcd}
	if _, err := os.Stat(filepath.Join(out, ".complete")); err == nil {
		return set, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Set{}, err
	}
	// One build at a time per cache: a second caller waits, then finds it complete.
	unlock, err := lockFile(filepath.Join(out, ".lock"))
	if err != nil {
		return Set{}, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(out, ".complete")); err == nil {
		return set, nil
	}
	if err := build(ctx, src, out, k8s, etcd, goos, log); err != nil {
		return Set{}, err
	}
	return set, os.WriteFile(filepath.Join(out, ".complete"), []byte(time.Now().Format(time.RFC3339)+"\n"), 0o644)
}

// inputKey hashes what decides the binaries: go.mod, go.sum, the mains, the toolchain.
func inputKey(ctx context.Context, src string) (string, error) {
	return inputKeyFor(ctx, src, runtime.GOOS)
}

// inputKeyFor is the key of binaries built for goos (runtime.GOOS gives inputKey's).
func inputKeyFor(ctx context.Context, src, goos string) (string, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", src, err)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(src, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(data))
		h.Write(data)
	}
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), goos, runtime.GOARCH)
	if v, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		h.Write(v)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// LDFlags stamps the Kubernetes version into a binary that links k8s.io/component-base.
func LDFlags(k8sVersion string) string {
	major, minor := "1", ""
	if parts := strings.Split(strings.TrimPrefix(k8sVersion, "v"), "."); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	pkg := "k8s.io/component-base/version"
	return strings.Join([]string{
		"-X " + pkg + ".gitVersion=" + k8sVersion,
		"-X " + pkg + ".gitMajor=" + major,
		"-X " + pkg + ".gitMinor=" + minor,
		"-X " + pkg + ".gitTreeState=clean",
		"-X " + pkg + ".buildDate=1970-01-01T00:00:00Z",
	}, " ")
}

func build(ctx context.Context, src, out, k8s, etcd, goos string, log *slog.Logger) error {
	log.Info("building lab binaries (a cold build takes about 9 minutes on 2 cores)",
		"kube-apiserver", k8s, "etcd", etcd, "into", out)
	tmp, err := os.MkdirTemp(out, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "build", "-v", "-trimpath", "-ldflags", LDFlags(k8s),
		"-o", tmp+string(os.PathSeparator), "./cmd/kube-apiserver", "./cmd/etcd")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOOS="+goos)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = cmd.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("go build in %s: %w", src, err)
	}
	var compiled atomic.Int64
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			compiled.Add(1)
			tail = append(tail, sc.Text())
			if len(tail) > 40 {
				tail = tail[1:]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	waitErr := make(chan error, 1)
	go func() { <-done; waitErr <- cmd.Wait() }()
	for {
		select {
		case err := <-waitErr:
			if err != nil {
				return fmt.Errorf("go build of lab binaries in %s failed: %w\n%s", src, err, strings.Join(tail, "\n"))
			}
			for _, name := range []string{"kube-apiserver", "etcd"} {
				if err := os.Rename(filepath.Join(tmp, name), filepath.Join(out, name)); err != nil {
					return err
				}
			}
			log.Info("lab binaries built", "seconds", int(time.Since(start).Seconds()), "packages", compiled.Load())
			return nil
		case <-tick.C:
			log.Info("still building lab binaries", "packages", compiled.Load(), "elapsed", time.Since(start).Round(time.Second).String())
		}
	}
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// Cached says where this checkout's (or this binary's) kube-apiserver and etcd are, and
// whether they are built there, without building anything.
func Cached(ctx context.Context) (dir string, built bool, err error) {
	src, err := SourceDir()
	if err != nil {
		return "", false, err
	}
	k8s, _, err := Versions(src)
	if err != nil {
		return "", false, err
	}
	key, err := inputKey(ctx, src)
	if err != nil {
		return "", false, err
	}
	dir = filepath.Join(CacheDir(), "kubebin", k8s+"-"+key[:12])
	_, err = os.Stat(filepath.Join(dir, ".complete"))
	return dir, err == nil, nil
}
