package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/checkout"
	"reachgate/framework/provider/gcp"
	"reachgate/framework/suiterun"
)

// suitePkg is one Ginkgo suite package under suites/.
type suitePkg struct {
	ImportPath, Dir, ID string
}

func newE2ECommand() *cobra.Command {
	var (
		jobs        int
		matrix      string
		gcpLab      string
		binDir      string
		ginkgoFlags []string
		rt          string
		prebuilt    bool
	)
	cmd := &cobra.Command{
		Use:   "e2e [PACKAGE...]",
		Short: "Run the suites side by side on the local lab (what make e2e-local runs)",
		Long: `Builds every suite's test binary (Go's build cache serves unchanged ones), then runs
the suites side by side, each on its own lab, at most --jobs at once (default: two per core,
one per 2 GiB of available memory, at most 6; REACHGATE_JOBS sets it too). Each suite's output
is printed whole when it ends; a line names the running suites every 30 s. The suites write
their JUnit and Ginkgo JSON into REACHGATE_REPORT_DIR as before; 'reachgate report' joins them.

--matrix runs suites again on other topologies: space-separated suite:topology pairs, the
topology a file name under fixtures/topologies without .yaml (e.g. "baseline:alt").
--gcp-lab-suites runs suites again with the gcp provider, each against a bare lab of its
topology that the provider brings up: it builds the GCP side through the lab's API with the
official clients, the suite checks it from the VMs' agents, and it is torn down.
Suites start longest first, by the wall times of the previous run (kept in --bin-dir).
Exit status 1 when any suite failed.

--runtime container (the default where the kernel is not Linux; REACHGATE_RUNTIME=container
elsewhere) builds the suites and the lab binaries for Linux, runs them in one lab container
through Docker (testcontainers-go), streams the output, copies the reports and logs back and
removes the container.`,
		Example: `  REACHGATE_BIN=$PWD/bin/reachgate reachgate e2e --jobs 4 --matrix "baseline:alt psa:alt-bgp-export-psa"
  reachgate e2e ./suites/baseline ./suites/tls`,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := checkout.Root()
			if err != nil {
				return err
			}
			switch rt {
			case "local", "container":
			default:
				return exitErrorf(2, "--runtime %q: want local or container ($%s)", rt, runtimeEnv)
			}
			if rt == "container" && runtime.GOOS != "linux" {
				// The suites run in a Linux container: their binaries are built for Linux.
				_ = os.Setenv("GOOS", "linux")
			}
			jobsSet := jobs != 0 || os.Getenv("REACHGATE_JOBS") != ""
			if jobs == 0 {
				jobs = suiterun.DefaultJobs()
				if v := os.Getenv("REACHGATE_JOBS"); v != "" {
					if _, err := fmt.Sscan(v, &jobs); err != nil || jobs < 1 {
						return exitErrorf(2, "REACHGATE_JOBS=%q: want a whole number ≥ 1", v)
					}
				}
			}
			if binDir == "" {
				binDir = filepath.Join(root, "bin", "suites")
			}
			if err := os.MkdirAll(binDir, 0o755); err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"./suites/..."}
			}
			out := cmd.OutOrStdout()
			var pkgs []suitePkg
			if prebuilt {
				// Inside a lab container: no Go; the host listed and built the suites.
				if pkgs, err = readSuiteManifest(root, binDir); err != nil {
					return err
				}
			} else if pkgs, err = listSuites(root, args); err != nil {
				return err
			}
			t0 := time.Now()
			key, err := suiteBuildKey(root)
			if prebuilt {
				key, err = "prebuilt", nil
			}
			if err != nil {
				return err
			}
			if prebuilt {
				fmt.Fprintf(out, "e2e: %d suite binaries built by the host\n", len(pkgs))
			} else if suitesUpToDate(binDir, key, pkgs) {
				fmt.Fprintf(out, "e2e: %d suite binaries up to date (build key %s, checked in %.2fs)\n", len(pkgs), key, time.Since(t0).Seconds())
			} else {
				_ = os.Remove(filepath.Join(binDir, "build.key"))
				if err := buildSuites(cmd, root, binDir, pkgs); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(binDir, "build.key"), []byte(key+"\n"), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(out, "e2e: built %d suite binaries in %.1fs (build key %s)\n", len(pkgs), time.Since(t0).Seconds(), key)
			}
			// In a lab container (a Mac, or REACHGATE_RUNTIME=container) the suites run there.
			if rt == "container" {
				j := 0
				if jobsSet {
					j = jobs
				}
				return e2eInContainer(cmd, root, binDir, pkgs, j, matrix, gcpLab, ginkgoFlags)
			}
			// Without root the suites run inside the user's lab namespaces, built here first
			// (the build may download modules; the namespaces have no network).
			if handled, err := maybeRootless(cmd, rootlessCreate); handled {
				return err
			}
			all, err := e2eJobs(root, binDir, pkgs, matrix, gcpLab, ginkgoFlags)
			if err != nil {
				return err
			}
			timesFile := filepath.Join(binDir, "times.json")
			orderLongestFirst(all, readTimes(timesFile))
			logDir := filepath.Join(binDir, "logs")
			if err := os.MkdirAll(logDir, 0o755); err != nil {
				return err
			}
			fmt.Fprintf(out, "e2e: %d suites, %d at a time (cores %d; --jobs or REACHGATE_JOBS to change)\n", len(all), jobs, runtime.NumCPU())
			t1, cpu := time.Now(), suiterun.SampleCPU()
			res := suiterun.Run(cmd.Context(), all, suiterun.Options{Jobs: jobs, LogDir: logDir, Out: out})
			wall := time.Since(t1)
			writeTimes(timesFile, res)
			err = e2eSummary(out, res, wall)
			// How busy the machine was: a run near 100 % is bound by computing, one well
			// under it by waiting (timers, handshakes, the measurement lock).
			if busy := suiterun.SampleCPU().Since(cpu); busy != "" {
				fmt.Fprintf(out, "e2e: %s while the suites ran (%d cores)\n", busy, runtime.NumCPU())
			}
			return err
		},
	}
	cmd.Flags().IntVar(&jobs, "jobs", 0, "suites at once (default from cores and memory, or REACHGATE_JOBS)")
	cmd.Flags().StringVar(&matrix, "matrix", "", `suite:topology pairs run in addition, e.g. "baseline:alt bgpexport:alt-bgp-export"`)
	cmd.Flags().StringVar(&gcpLab, "gcp-lab-suites", "", `suites run again with --provider gcp against a bare lab of their topology (REACHGATE_GCP_LAB=new), e.g. "gcpvpc baseline:stand-in" (:stand-in: the third-party cloud is a VPC of the project, as on Google)`)
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "where the suite binaries, their logs and the last wall times go (default <checkout>/bin/suites)")
	cmd.Flags().StringVar(&rt, "runtime", defaultRuntime(), "where the labs run: local (this machine's namespaces; rootless without root) or container (one Linux container through Docker; $"+runtimeEnv+")")
	cmd.Flags().BoolVar(&prebuilt, "prebuilt", false, "run the suites the host built (inside a lab container)")
	_ = cmd.Flags().MarkHidden("prebuilt")
	cmd.Flags().StringArrayVar(&ginkgoFlags, "ginkgo", nil, "a flag passed to every suite binary, e.g. --ginkgo=-ginkgo.label-filter=baseline (repeatable)")
	return cmd
}

// listSuites lists the packages with tests among patterns, except suites/harness (plain Go
// tests of the harness) and suites/internal.
func listSuites(root string, patterns []string) ([]suitePkg, error) {
	c := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{len .TestGoFiles}}{{len .XTestGoFiles}}"}, patterns...)...)
	c.Dir = root
	c.Stderr = os.Stderr
	b, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w", strings.Join(patterns, " "), err)
	}
	var pkgs []suitePkg
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[2] == "00" {
			continue
		}
		rel, err := filepath.Rel(filepath.Join(root, "suites"), f[1])
		if err != nil || strings.HasPrefix(rel, "..") || rel == "harness" || rel == "internal" || strings.HasPrefix(rel, "internal/") {
			continue
		}
		pkgs = append(pkgs, suitePkg{ImportPath: f[0], Dir: f[1], ID: strings.ReplaceAll(rel, "/", "_")})
	}
	if len(pkgs) == 0 {
		return nil, exitErrorf(2, "no suite packages in %s", strings.Join(patterns, " "))
	}
	return pkgs, nil
}

// buildSuites compiles the suites' test binaries, two at a time.
func buildSuites(cmd *cobra.Command, root, binDir string, pkgs []suitePkg) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 2)
	)
	for _, p := range pkgs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := exec.CommandContext(cmd.Context(), "go", "test", "-c", "-o", filepath.Join(binDir, p.ID+".test"), p.ImportPath)
			c.Dir = root
			if out, err := c.CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("build %s: %w\n%s", p.ImportPath, err, out))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// e2eJobs is one job per suite package, one per matrix pair and one per suite run with the
// gcp provider against a bare lab.
func e2eJobs(root, binDir string, pkgs []suitePkg, matrix, gcpLab string, extra []string) ([]suiterun.Job, error) {
	args := append([]string{"-ginkgo.timeout=60m", "-ginkgo.poll-progress-after=120s", "-ginkgo.no-color"}, extra...)
	byName := map[string]suitePkg{}
	var jobs []suiterun.Job
	for _, p := range pkgs {
		byName[p.ID] = p
		jobs = append(jobs, suiterun.Job{Name: p.ID, Binary: filepath.Join(binDir, p.ID+".test"), Dir: p.Dir, Args: args})
	}
	for _, m := range strings.Fields(matrix) {
		suite, topo, ok := strings.Cut(m, ":")
		p, known := byName[suite]
		file := filepath.Join(root, "fixtures", "topologies", topo+".yaml")
		switch {
		case !ok || suite == "" || topo == "":
			return nil, exitErrorf(2, "--matrix %q: want suite:topology, e.g. baseline:alt", m)
		case !known:
			return nil, exitErrorf(2, "--matrix %q: no suite %q among %s", m, suite, strings.Join(slices.Sorted(maps.Keys(byName)), ", "))
		}
		if _, err := os.Stat(file); err != nil {
			return nil, exitErrorf(2, "--matrix %q: no topology %s", m, file)
		}
		jobs = append(jobs, suiterun.Job{Name: suite + "@" + topo, Binary: filepath.Join(binDir, p.ID+".test"), Dir: p.Dir, Args: args,
			Env: []string{"REACHGATE_TOPOLOGY=" + file}})
	}
	for _, entry := range strings.Fields(gcpLab) {
		// SUITE, or SUITE:stand-in for a third-party cloud played by a VPC of the project.
		suite, third, _ := strings.Cut(entry, ":")
		p, known := byName[suite]
		if !known {
			return nil, exitErrorf(2, "--gcp-lab-suites %q: no suite %q among %s", gcpLab, suite, strings.Join(slices.Sorted(maps.Keys(byName)), ", "))
		}
		job := suiterun.Job{Name: suite + "-on-gcp", Binary: filepath.Join(binDir, p.ID+".test"), Dir: p.Dir, Args: args,
			Env: []string{"REACHGATE_PROVIDER=gcp", "REACHGATE_GCP_LAB=new"}}
		switch third {
		case "":
		case gcp.StandIn:
			job.Name += "-" + gcp.StandIn
			job.Env = append(job.Env, gcp.ThirdPartyEnv+"="+gcp.StandIn)
		default:
			return nil, exitErrorf(2, "--gcp-lab-suites %q: %q: write SUITE or SUITE:%s", gcpLab, entry, gcp.StandIn)
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

// orderLongestFirst sorts jobs by their last wall time, longest first; a job never timed
// goes first (it may be long).
func orderLongestFirst(jobs []suiterun.Job, last map[string]float64) {
	slices.SortStableFunc(jobs, func(a, b suiterun.Job) int {
		ta, oka := last[a.Name]
		tb, okb := last[b.Name]
		switch {
		case !oka && okb:
			return -1
		case oka && !okb:
			return 1
		case ta > tb:
			return -1
		case ta < tb:
			return 1
		}
		return 0
	})
}

func readTimes(file string) map[string]float64 {
	m := map[string]float64{}
	if b, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func writeTimes(file string, res []suiterun.Result) {
	m := readTimes(file)
	for _, r := range res {
		if r.Wall > 0 {
			m[r.Name] = r.Wall.Seconds()
		}
	}
	if b, err := json.MarshalIndent(m, "", "  "); err == nil {
		_ = os.WriteFile(file, b, 0o644)
	}
}

// e2eSummary prints one line per suite and the run's wall time; an error when any failed.
func e2eSummary(out io.Writer, res []suiterun.Result, wall time.Duration) error {
	sorted := slices.Clone(res)
	slices.SortFunc(sorted, func(a, b suiterun.Result) int { return strings.Compare(a.Name, b.Name) })
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSUITE\tRESULT\tWALL\tLOG")
	var failed []string
	var sum time.Duration
	for _, r := range sorted {
		status := "pass"
		if !r.Passed() {
			status = "FAIL"
			failed = append(failed, r.Name)
		}
		sum += r.Wall
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%s\n", r.Name, status, r.Wall.Seconds(), r.Log)
	}
	tw.Flush()
	fmt.Fprintf(out, "e2e: %d suites in %.1fs wall (%.1fs if run one after another)\n", len(res), wall.Seconds(), sum.Seconds())
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d suites failed: %s", len(failed), len(res), strings.Join(failed, ", "))
	}
	return nil
}
