// Package suiterun runs the suites' test binaries side by side: each suite provisions its own
// lab under its own name, so suites are independent and their time is mostly waiting
// (timers, handshakes, failover windows), not computing. Run caps how many run at once,
// keeps each suite's output together (printed whole when it ends, in completion order),
// prints progress while they run, and returns every job's outcome and wall time.
package suiterun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Job is one suite run: a compiled test binary, run in its package's directory with extra
// environment (e.g. REACHGATE_TOPOLOGY for a suite on another address plan).
type Job struct {
	Name   string   // as reported: "baseline", "baseline@alt"
	Binary string   // the compiled test binary
	Dir    string   // working directory (the suite's package directory)
	Args   []string // the binary's arguments (-ginkgo.* flags)
	Env    []string // added to the environment
}

// Result is what became of a job.
type Result struct {
	Job
	Exit    int // the binary's exit status; -1 when it could not start or was stopped
	Err     error
	Started time.Time
	Wall    time.Duration
	Log     string // the job's whole output, in a file under the run's log directory
}

// Passed reports whether the job ran and exited 0.
func (r Result) Passed() bool { return r.Exit == 0 && r.Err == nil }

// Options tune a run.
type Options struct {
	Jobs      int           // at most this many at once (≥ 1)
	LogDir    string        // where each job's output goes (<name>.log)
	Out       io.Writer     // progress and the jobs' outputs
	Heartbeat time.Duration // how often to name the running jobs (0: every 30 s)
}

// Run runs the jobs, at most opts.Jobs at a time, in the order given (put the longest first:
// the run ends when the last job does). Cancelling ctx stops the running binaries with
// SIGTERM (they tear their labs down) and starts no more.
func Run(ctx context.Context, jobs []Job, opts Options) []Result {
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 30 * time.Second
	}
	var (
		mu      sync.Mutex
		running = map[string]time.Time{}
		done    int
		results = make([]Result, len(jobs))
		wg      sync.WaitGroup
		slots   = make(chan struct{}, opts.Jobs)
	)
	printf := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(opts.Out, format, a...)
	}
	stopBeat := make(chan struct{})
	go func() {
		t := time.NewTicker(opts.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case now := <-t.C:
				mu.Lock()
				var names []string
				for n, s := range running {
					names = append(names, fmt.Sprintf("%s %.0fs", n, now.Sub(s).Seconds()))
				}
				slices.Sort(names)
				if len(names) > 0 {
					fmt.Fprintf(opts.Out, "suiterun: %d/%d done; running: %s\n", done, len(jobs), strings.Join(names, ", "))
				}
				mu.Unlock()
			}
		}
	}()
	for i, j := range jobs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			results[i] = Result{Job: j, Exit: -1, Err: fmt.Errorf("not started: %w", ctx.Err())}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			start := time.Now()
			mu.Lock()
			running[j.Name] = start
			n := len(running)
			mu.Unlock()
			printf("suiterun: start %s (%d running)\n", j.Name, n)
			r := runOne(ctx, j, opts.LogDir)
			r.Started, r.Wall = start, time.Since(start)
			results[i] = r
			mu.Lock()
			delete(running, j.Name)
			done++
			// The job's output, whole: suites running side by side never interleave.
			fmt.Fprintf(opts.Out, "\n===== %s: %s in %.1fs (%d/%d done) =====\n", j.Name, r.status(), r.Wall.Seconds(), done, len(jobs))
			if f, err := os.Open(r.Log); err == nil {
				_, _ = io.Copy(opts.Out, f)
				f.Close()
			}
			if r.Err != nil {
				fmt.Fprintf(opts.Out, "suiterun: %s: %v\n", j.Name, r.Err)
			}
			fmt.Fprintf(opts.Out, "===== end of %s =====\n", j.Name)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(stopBeat)
	return results
}

func (r Result) status() string {
	switch {
	case r.Passed():
		return "PASS"
	case r.Exit > 0:
		return "FAIL (exit " + strconv.Itoa(r.Exit) + ")"
	default:
		return "ERROR"
	}
}

func runOne(ctx context.Context, j Job, logDir string) Result {
	r := Result{Job: j, Exit: -1, Log: filepath.Join(logDir, strings.NewReplacer("/", "_", "@", "_at_").Replace(j.Name)+".log")}
	f, err := os.Create(r.Log)
	if err != nil {
		r.Err = err
		return r
	}
	defer f.Close()
	cmd := exec.Command(j.Binary, j.Args...)
	cmd.Dir = j.Dir
	cmd.Env = append(os.Environ(), j.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		r.Err = fmt.Errorf("start %s: %w", j.Binary, err)
		return r
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		// SIGTERM, not SIGKILL: the suite's AfterSuite tears its lab down.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-waited
	}
	if cmd.ProcessState != nil {
		r.Exit = cmd.ProcessState.ExitCode()
	}
	if err != nil && r.Exit <= 0 {
		r.Err = err
	}
	return r
}

// DefaultJobs is how many suites run at once unless told: two per core (the suites mostly
// wait), at most one per 2 GiB of available memory (a lab's etcd, kube-apiserver and
// daemons take about 1 GiB), at least 1 and at most 6.
func DefaultJobs() int {
	n := 2 * runtime.NumCPU()
	if gib := availableGiB(); gib > 0 {
		n = min(n, gib/2)
	}
	return max(1, min(n, 6))
}

// availableGiB reads MemAvailable from /proc/meminfo (0 when unknown).
func availableGiB() int {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / (1 << 20)
		}
	}
	return 0
}
