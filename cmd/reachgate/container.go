package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/checkout"
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

// linuxLabBinaries are the copies of the Linux reachgate, kube-apiserver and etcd a lab
// container runs (built or cross-built as needed; cross-built files go under binDir).
func linuxLabBinaries(ctx context.Context, root, binDir string) ([]container.Copy, error) {
	self, err := linuxSelf(ctx, root, binDir)
	if err != nil {
		return nil, err
	}
	kube, err := binaries.EnsureFor(ctx, slog.Default(), "linux")
	if err != nil {
		return nil, err
	}
	return []container.Copy{
		{Host: self, Path: ctrBin},
		{Host: kube.APIServer, Path: ctrKubebin + "/kube-apiserver"},
		{Host: kube.Etcd, Path: ctrKubebin + "/etcd"},
	}, nil
}

// ctrKubeEnv points the lab inside a container at the copied kube-apiserver and etcd.
var ctrKubeEnv = []string{"REACHGATE_KUBE_APISERVER=" + ctrKubebin + "/kube-apiserver", "REACHGATE_ETCD=" + ctrKubebin + "/etcd"}

// skipInCheckout leaves out of the container's copy of the checkout what is built or
// written (the suites are copied on their own) and the Git data.
func skipInCheckout(rel string, dir bool) bool {
	switch rel {
	case ".git", "bin", "reports/out":
		return true
	}
	return false
}

// checkoutFilter copies what Git would: tracked files and new ones not ignored (so no
// binaries lying in the tree); without Git, skipInCheckout.
func checkoutFilter(ctx context.Context, root string) func(string, bool) bool {
	c := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	c.Dir = root
	b, err := c.Output()
	if err != nil {
		return skipInCheckout
	}
	files, dirs := map[string]bool{}, map[string]bool{}
	for _, f := range strings.Split(string(b), "\x00") {
		if f == "" {
			continue
		}
		files[f] = true
		for d := filepath.ToSlash(filepath.Dir(f)); d != "." && !dirs[d]; d = filepath.ToSlash(filepath.Dir(d)) {
			dirs[d] = true
		}
	}
	return func(rel string, dir bool) bool {
		if dir {
			return !dirs[rel]
		}
		return !files[rel]
	}
}

// e2eInContainer runs the suites (built here for Linux) in one lab container and copies
// the reports and logs back.
func e2eInContainer(cmd *cobra.Command, root, binDir string, pkgs []suitePkg, jobs int, matrix, gcpLab string, ginkgoFlags []string) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	copies, err := linuxLabBinaries(ctx, root, binDir)
	if err != nil {
		return err
	}
	if err := writeSuiteManifest(root, binDir, pkgs); err != nil {
		return err
	}
	copies = append(copies,
		container.Copy{Host: root, Path: ctrSrc, Skip: checkoutFilter(ctx, root)},
		container.Copy{Host: filepath.Join(binDir, suitesIndex), Path: ctrSuites + "/" + suitesIndex})
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
	if gcpLab != "" {
		argv = append(argv, "--gcp-lab-suites", gcpLab)
	}
	if matrix != "" {
		argv = append(argv, "--matrix", matrix)
	}
	for _, g := range ginkgoFlags {
		argv = append(argv, "--ginkgo="+g)
	}
	env := append([]string{"REACHGATE_BIN=" + ctrBin, "REACHGATE_REPORT_DIR=" + ctrReports, runtimeEnv + "=local"}, ctrKubeEnv...)
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

// The user's interactive lab container (lab up with the container runtime) holds every lab
// of the user, as the rootless holder does on Linux; later lab commands are run inside it.
type labContainer struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

func labContainerRecord() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "reachgate", "container-lab.json")
}

// commandRuntime is the runtime a command runs on: its --runtime flag, else the default.
func commandRuntime(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("runtime"); f != nil {
		return f.Value.String()
	}
	return defaultRuntime()
}

// withoutRuntimeFlag drops --runtime X / --runtime=X from args (inside, the runtime is local).
func withoutRuntimeFlag(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--runtime" && i+1 < len(args):
			i++
		case strings.HasPrefix(args[i], "--runtime="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// maybeContainer runs a lab command inside the user's lab container when the runtime is
// container: lab up starts the container first; lab down and lab gc remove it once no lab is
// left in it. handled=true means the command ran there; err carries its exit status.
func maybeContainer(cmd *cobra.Command, mode string) (bool, error) {
	if mode == "" || commandRuntime(cmd) != "container" || os.Getenv("REACHGATE_IN_CONTAINER") == "1" {
		return false, nil
	}
	ctx := cmd.Context()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	path := cmd.CommandPath()
	var rec labContainer
	var lab *container.Lab
	if b, err := os.ReadFile(labContainerRecord()); err == nil && json.Unmarshal(b, &rec) == nil {
		if l, err := container.Attach(ctx, rec.ID); err == nil {
			lab = l
		} else {
			_ = os.Remove(labContainerRecord())
		}
	}
	if lab == nil {
		switch {
		case path == "reachgate lab gc":
			return true, containerGC(ctx)
		case path == "reachgate lab status" || path == "reachgate lab down":
			fmt.Fprintln(out, "no lab container is running for this user")
			return true, nil
		case mode != rootlessCreate:
			return true, fmt.Errorf("no lab container is running for this user: start one with reachgate lab up --runtime container")
		}
		// The container outlives this command: testcontainers' reaper would remove it when
		// the command exits, so lab down and lab gc remove it instead.
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		// Off Linux reachgate is cross-built from the checkout; on Linux it is this binary.
		root, err := checkout.Root()
		if err != nil && runtime.GOOS != "linux" {
			return true, err
		}
		copies, err := linuxLabBinaries(ctx, root, filepath.Join(root, "bin"))
		if err != nil {
			return true, err
		}
		name := fmt.Sprintf("lab-%d", os.Getuid())
		l, err := container.Start(ctx, container.Options{Name: name, Progress: out, Copies: copies})
		if err != nil {
			return true, err
		}
		lab, rec = l, labContainer{ID: l.ID(), Name: "reachgate-" + name, Created: time.Now().UTC()}
		b, _ := json.MarshalIndent(rec, "", "  ")
		if err := os.MkdirAll(filepath.Dir(labContainerRecord()), 0o755); err != nil {
			return true, errors.Join(err, lab.Terminate(context.WithoutCancel(ctx)))
		}
		if err := os.WriteFile(labContainerRecord(), b, 0o644); err != nil {
			return true, errors.Join(err, lab.Terminate(context.WithoutCancel(ctx)))
		}
		fmt.Fprintf(out, "container: the lab container %s holds this user's labs (record %s)\n", rec.Name, labContainerRecord())
	}
	args := withoutRuntimeFlag(os.Args[1:])
	// A topology file of lab up is copied in.
	for i, a := range args {
		file, flag := "", ""
		switch {
		case (a == "-f" || a == "--topology") && i+1 < len(args):
			file, flag = args[i+1], "next"
		case strings.HasPrefix(a, "--topology="):
			file, flag = strings.TrimPrefix(a, "--topology="), "inline"
		}
		if file == "" {
			continue
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return true, err
		}
		dst := "/src/topologies/" + filepath.Base(file)
		if err := lab.CopyIn(ctx, container.Copy{Host: abs, Path: dst}); err != nil {
			return true, fmt.Errorf("copy %s into the lab container: %w", file, err)
		}
		if flag == "next" {
			args[i+1] = dst
		} else {
			args[i] = "--topology=" + dst
		}
	}
	env := append([]string{runtimeEnv + "=local", "REACHGATE_IN_CONTAINER=1"}, ctrKubeEnv...)
	var stdin *os.File
	if path == "reachgate lab exec" {
		stdin = os.Stdin
	}
	var code int
	var err error
	if stdin != nil {
		code, err = lab.ExecInput(ctx, append([]string{ctrBin}, args...), env, "/", stdin, out, errOut)
	} else {
		code, err = lab.Exec(ctx, append([]string{ctrBin}, args...), env, "/", out, errOut)
	}
	if err == nil && (path == "reachgate lab down" || path == "reachgate lab gc") {
		var n strings.Builder
		if _, lerr := lab.Exec(ctx, []string{"sh", "-c", "ls /run/reachgate/labs 2>/dev/null | wc -l"}, nil, "/", &n, errOut); lerr == nil && strings.TrimSpace(n.String()) == "0" {
			if terr := lab.Terminate(context.WithoutCancel(ctx)); terr != nil {
				return true, terr
			}
			_ = os.Remove(labContainerRecord())
			fmt.Fprintf(out, "container: no lab left; removed the lab container %s\n", rec.Name)
		}
	}
	if err != nil {
		return true, err
	}
	if code != 0 {
		return true, exitError{code}
	}
	return true, nil
}
