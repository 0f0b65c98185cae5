package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"reachgate/lab/binaries"
	"reachgate/lab/container"
)

// labContainerLabel marks reachgate's lab containers.
const labContainerLabel = container.Label

// runtimeEnv chooses where labs run: local (this machine's namespaces) or container.
const runtimeEnv = "REACHGATE_RUNTIME"

// defaultRuntime is $REACHGATE_RUNTIME, else local on Linux and container elsewhere.
func defaultRuntime() string {
	if v := os.Getenv(runtimeEnv); v != "" {
		return v
	}
	if runtime.GOOS != "linux" {
		return "container"
	}
	return "local"
}

// Paths inside the lab container.
const (
	ctrSrc      = "/src"
	ctrBin      = "/usr/local/bin/reachgate"
	ctrKubebin  = "/opt/reachgate/kubebin"
	ctrSuites   = ctrSrc + "/bin/suites"
	ctrReports  = ctrSrc + "/reports/out"
	suitesIndex = "suites.json"
)

// manifestEntry is one suite the host built, for the e2e inside the container.
type manifestEntry struct {
	ImportPath string `json:"importPath"`
	Dir        string `json:"dir"` // relative to the checkout
	ID         string `json:"id"`
}

func writeSuiteManifest(root, binDir string, pkgs []suitePkg) error {
	var m []manifestEntry
	for _, p := range pkgs {
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			return err
		}
		m = append(m, manifestEntry{p.ImportPath, filepath.ToSlash(rel), p.ID})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(binDir, suitesIndex), b, 0o644)
}

func readSuiteManifest(root, binDir string) ([]suitePkg, error) {
	file := filepath.Join(binDir, suitesIndex)
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--prebuilt: %w (the host writes it before it starts the container)", err)
	}
	var m []manifestEntry
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var pkgs []suitePkg
	for _, e := range m {
		pkgs = append(pkgs, suitePkg{ImportPath: e.ImportPath, Dir: filepath.Join(root, filepath.FromSlash(e.Dir)), ID: e.ID})
	}
	return pkgs, nil
}

// linuxSelf is a reachgate binary for Linux: this one on Linux, else one cross-built from
// the checkout.
func linuxSelf(ctx context.Context, root, binDir string) (string, error) {
	if runtime.GOOS == "linux" {
		return os.Executable()
	}
	out := filepath.Join(binDir, "linux", "reachgate")
	c := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/reachgate")
	c.Dir = root
	c.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	if b, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cross-build reachgate for linux: %w\n%s", err, b)
	}
	return out, nil
}

// skipInCheckout leaves out of the container's copy of the checkout what is built or
// written (the suites are copied on their own) and the Git data.
func skipInCheckout(rel string, dir bool) bool {
	switch rel {
	case ".git", "bin", "reports/out":
		return true
	}
	return false
}

// e2eInContainer runs the suites (built here for Linux) in one lab container and copies
// the reports and logs back.
func e2eInContainer(cmd *cobra.Command, root, binDir string, pkgs []suitePkg, jobs int, matrix string, ginkgoFlags []string) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	self, err := linuxSelf(ctx, root, binDir)
	if err != nil {
		return err
	}
	kube, err := binaries.EnsureFor(ctx, slog.Default(), "linux")
	if err != nil {
		return err
	}
	if err := writeSuiteManifest(root, binDir, pkgs); err != nil {
		return err
	}
	copies := []container.Copy{
		{Host: self, Path: ctrBin},
		{Host: kube.APIServer, Path: ctrKubebin + "/kube-apiserver"},
		{Host: kube.Etcd, Path: ctrKubebin + "/etcd"},
		{Host: root, Path: ctrSrc, Skip: skipInCheckout},
		{Host: filepath.Join(binDir, suitesIndex), Path: ctrSuites + "/" + suitesIndex},
	}
	for _, p := range pkgs {
		copies = append(copies, container.Copy{Host: filepath.Join(binDir, p.ID+".test"), Path: ctrSuites + "/" + p.ID + ".test"})
	}
	if _, err := os.Stat(filepath.Join(binDir, "times.json")); err == nil {
		copies = append(copies, container.Copy{Host: filepath.Join(binDir, "times.json"), Path: ctrSuites + "/times.json"})
	}
	t0 := time.Now()
	lab, err := container.Start(ctx, container.Options{Name: fmt.Sprintf("e2e-%d", os.Getpid()), Copies: copies, Progress: out})
	if err != nil {
		return err
	}
	// Removed on every way out, Ctrl-C included (ctx is cancelled then; removal is not).
	defer func() {
		t := time.Now()
		if err := lab.Terminate(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "container: remove:", err)
			return
		}
		fmt.Fprintf(out, "container: removed in %.1fs\n", time.Since(t).Seconds())
	}()
	argv := []string{ctrBin, "e2e", "--prebuilt", "--runtime", "local", "--bin-dir", ctrSuites}
	if jobs > 0 {
		argv = append(argv, "--jobs", strconv.Itoa(jobs))
	}
	if matrix != "" {
		argv = append(argv, "--matrix", matrix)
	}
	for _, g := range ginkgoFlags {
		argv = append(argv, "--ginkgo="+g)
	}
	env := []string{
		"REACHGATE_BIN=" + ctrBin, "REACHGATE_REPORT_DIR=" + ctrReports,
		"REACHGATE_KUBE_APISERVER=" + ctrKubebin + "/kube-apiserver", "REACHGATE_ETCD=" + ctrKubebin + "/etcd",
		runtimeEnv + "=local",
	}
	code, runErr := lab.Exec(ctx, argv, env, ctrSrc, out, cmd.ErrOrStderr())
	// Reports and logs come back even when suites failed.
	reports := os.Getenv("REACHGATE_REPORT_DIR")
	if reports == "" {
		reports = filepath.Join(root, "reports", "out")
	}
	cctx := context.WithoutCancel(ctx)
	n, err := lab.CopyOut(cctx, ctrReports, reports)
	if err != nil {
		return fmt.Errorf("container: copy the reports back: %w", err)
	}
	if _, err := lab.CopyOut(cctx, ctrSuites+"/logs", filepath.Join(binDir, "logs")); err != nil {
		return fmt.Errorf("container: copy the suite logs back: %w", err)
	}
	_, _ = lab.CopyOut(cctx, ctrSuites+"/times.json", binDir)
	fmt.Fprintf(out, "container: %d report files copied to %s; run took %.1fs in all\n", n, reports, time.Since(t0).Seconds())
	if runErr != nil {
		return runErr
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// containerGC removes the lab containers a killed run left (without testcontainers' reaper).
func containerGC(ctx context.Context) error {
	removed, err := container.GC(ctx)
	for _, r := range removed {
		fmt.Println("removed lab container", r)
	}
	return err
}
