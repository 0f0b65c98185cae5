package suiterun

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// shJob is a job whose "binary" is sh running script.
func shJob(name, script string) Job {
	return Job{Name: name, Binary: "/bin/sh", Args: []string{"-c", script}}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunCapsKeepsOutputTogetherAndReportsExits(t *testing.T) {
	t.Parallel()
	// Each job prints five lines 40 ms apart: run side by side, their outputs would
	// interleave if they were not held back until each job ends.
	var jobs []Job
	for i := range 4 {
		script := fmt.Sprintf(`for k in 1 2 3 4 5; do echo "job%d line $k"; sleep 0.04; done; exit %d`, i, map[bool]int{true: 3}[i == 2])
		jobs = append(jobs, shJob(fmt.Sprintf("job%d", i), script))
	}
	var out syncBuffer
	start := time.Now()
	res := Run(t.Context(), jobs, Options{Jobs: 2, LogDir: t.TempDir(), Out: &out, Heartbeat: 50 * time.Millisecond})
	wall := time.Since(start)
	// 4 jobs of ≥ 200 ms, 2 at a time: at least 400 ms, and well below 4 × 200 ms.
	if wall < 400*time.Millisecond || wall > 750*time.Millisecond {
		t.Errorf("wall %v; want 2 rounds of about 200 ms (2 at a time)", wall)
	}
	for i, r := range res {
		wantExit := 0
		if i == 2 {
			wantExit = 3
		}
		if r.Exit != wantExit || r.Passed() != (wantExit == 0) {
			t.Errorf("%s: exit %d passed %v; want exit %d", r.Name, r.Exit, r.Passed(), wantExit)
		}
		if r.Wall < 200*time.Millisecond {
			t.Errorf("%s: wall %v; want ≥ 200 ms", r.Name, r.Wall)
		}
	}
	text := out.String()
	for i := range 4 {
		block := regexp.MustCompile(fmt.Sprintf(`(?s)===== job%d: [^\n]*=====\n(.*?)===== end of job%d =====`, i, i)).FindStringSubmatch(text)
		if block == nil {
			t.Fatalf("no output block for job%d in:\n%s", i, text)
		}
		want := ""
		for k := 1; k <= 5; k++ {
			want += fmt.Sprintf("job%d line %d\n", i, k)
		}
		if block[1] != want {
			t.Errorf("job%d block %q; want its five lines together %q", i, block[1], want)
		}
	}
	if !strings.Contains(text, "job2: FAIL (exit 3)") {
		t.Errorf("output does not report job2's failure:\n%s", text)
	}
	if !strings.Contains(text, "running: job") {
		t.Errorf("no heartbeat naming the running jobs:\n%s", text)
	}
}

func TestRunCancelStopsRunningAndPending(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	jobs := []Job{shJob("long", "sleep 30"), shJob("pending", "echo never")}
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res := Run(ctx, jobs, Options{Jobs: 1, LogDir: t.TempDir(), Out: &syncBuffer{}})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %v to stop the run", d)
	}
	if res[0].Passed() || res[1].Passed() || res[1].Err == nil {
		t.Errorf("results %+v / %+v; want the running job stopped and the pending one not started", res[0], res[1])
	}
}

func TestRunMissingBinary(t *testing.T) {
	t.Parallel()
	res := Run(t.Context(), []Job{{Name: "x", Binary: "/nonexistent/suite.test"}}, Options{Jobs: 1, LogDir: t.TempDir(), Out: &syncBuffer{}})
	if res[0].Passed() || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "/nonexistent/suite.test") {
		t.Errorf("result %+v; want an error naming the binary", res[0])
	}
}

func TestDefaultJobs(t *testing.T) {
	t.Parallel()
	if n := DefaultJobs(); n < 1 || n > 6 {
		t.Errorf("DefaultJobs() = %d; want 1..6", n)
	}
}
