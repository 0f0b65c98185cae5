package lab_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// TestGCAfterKilledUpLeavesNoProcess kills `reachgate lab up` with SIGKILL at several points
// of provisioning (namespaces, control plane start-up, control plane waiting for readiness)
// and checks that `reachgate lab gc` returns only when nothing of the lab is left: every
// process the lab recorded or started, and every process inside one of its namespaces, has
// exited, and no namespace or state of the lab remains. The check runs right after gc
// returns, without waiting: a gate that chains runs relies on exactly that.
func TestGCAfterKilledUpLeavesNoProcess(t *testing.T) {
	roottest.Require(t)
	self := roottest.Self(t)
	type when struct {
		name string
		at   time.Duration // after the start of lab up
		// child: right when lab up has a child whose command line contains this, instead
		child string
		// freeze: SIGSTOP lab up and that child the instant it appears, then SIGKILL lab up:
		// the child is a launcher its starter may not have recorded yet, and that has not
		// entered its namespace yet, as on a loaded machine that has not scheduled it.
		freeze bool
	}
	for _, w := range []when{
		{name: "300ms", at: 300 * time.Millisecond},
		{name: "800ms", at: 800 * time.Millisecond},
		{name: "1.5s", at: 1500 * time.Millisecond},
		{name: "3s", at: 3 * time.Second},
		// The instants a daemon is started: started but possibly not recorded yet.
		{name: "etcd", child: "/etcd"},
		{name: "apiserver", child: "/kube-apiserver"},
		{name: "etcd-frozen", child: "/etcd", freeze: true},
		{name: "api-frozen", child: "/kube-apiserver", freeze: true},
	} {
		name := "tdk-" + strings.ReplaceAll(w.name, ".", "")
		t.Run(w.name, func(t *testing.T) {
			clearLab(t, name)
			t.Cleanup(func() { clearLab(t, name) })

			up := exec.Command(self, "lab", "up", "--name", name, "-f", seedPath)
			var upLog bytes.Buffer
			up.Stdout, up.Stderr = &upLog, &upLog
			if err := up.Start(); err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			if w.child != "" {
				c := waitChild(t, up.Process.Pid, w.child)
				if w.freeze {
					_ = syscall.Kill(up.Process.Pid, syscall.SIGSTOP)
					_ = syscall.Kill(c, syscall.SIGSTOP)
					t.Cleanup(func() { _ = syscall.Kill(c, syscall.SIGCONT) })
				}
			} else {
				time.Sleep(w.at)
			}
			_ = up.Process.Kill()
			_ = up.Wait()
			t.Logf("lab up killed after %v; its log:\n%s", time.Since(begin).Round(time.Millisecond), strings.TrimSpace(upLog.String()))

			// Everything of the lab that runs now, each held by a pidfd so that a recycled PID
			// can never be mistaken for it.
			left := labProcesses(t, name)
			defer left.close()
			t.Logf("%d processes of the lab before gc: %s", len(left), left)

			gcStart := time.Now()
			gc := exec.Command(self, "lab", "gc", "--name", name)
			out, err := gc.CombinedOutput()
			took := time.Since(gcStart)
			if err != nil {
				t.Fatalf("lab gc: %v:\n%s", err, out)
			}
			t.Logf("lab gc took %v:\n%s", took.Round(time.Millisecond), strings.TrimSpace(string(out)))

			// No sleep: when gc returns, the lab must be gone.
			var alive labProcs
			for _, p := range left {
				if !p.exited() {
					alive = append(alive, p)
				}
			}
			after := labProcesses(t, name)
			defer after.close()
			for _, p := range after {
				if !p.exited() && !left.has(p.pid) {
					alive = append(alive, p)
				}
			}
			if len(alive) > 0 {
				var desc []string
				for _, p := range alive {
					desc = append(desc, p.describe())
				}
				t.Errorf("processes of lab %s still alive when lab gc returned:\n  %s", name, strings.Join(desc, "\n  "))
				// How long they outlive gc, to tell a slow exit from a process nobody stopped.
				returned := time.Now()
				deadline := returned.Add(5 * time.Second)
				for _, p := range alive {
					for !p.exited() && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
					if p.exited() {
						t.Logf("pid %d exited %v after gc returned", p.pid, p.exitedAt.Sub(returned).Round(10*time.Millisecond))
					} else {
						t.Logf("pid %d still alive 5s after gc returned", p.pid)
					}
				}
			}
			if ns := ourNamespaces(t, name); len(ns) > 0 {
				t.Errorf("namespaces of lab %s left after gc: %v", name, ns)
			}
			if _, err := os.Stat(netns.LabDir(name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state of lab %s left after gc (%v)", name, err)
			}
		})
	}
}

// waitChild returns, as soon as there is one, a child of process pid whose command line
// contains s.
func waitChild(t *testing.T, pid int, s string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// Each thread lists the children it forked; Go forks from any thread.
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		if err != nil || len(tasks) == 0 {
			t.Fatalf("lab up ended before it started a process with %q in its command line", s)
		}
		for _, task := range tasks {
			data, _ := os.ReadFile(task)
			for _, c := range strings.Fields(string(data)) {
				if cmdline, err := os.ReadFile("/proc/" + c + "/cmdline"); err == nil && bytes.Contains(cmdline, []byte(s)) {
					pid, _ := strconv.Atoi(c)
					return pid
				}
			}
		}
	}
	t.Fatalf("lab up started no process with %q in its command line within 30s", s)
	return 0
}

// clearLab removes what an earlier, failed run of a test lab left.
func clearLab(t *testing.T, name string) {
	t.Helper()
	if err := netns.GCLab(context.Background(), name, testLog(t)); err != nil {
		t.Logf("gc %s: %v", name, err)
	}
	if st, err := netns.LoadState(name); err == nil {
		_ = netns.Down(context.Background(), st, testLog(t))
	}
}

// labProc is a process of a lab under test, held by a pidfd.
type labProc struct {
	pid      int
	fd       int
	what     string
	exitedAt time.Time
}

// exited reports, without blocking, whether the process has exited (it is a zombie or gone):
// a pidfd is readable once every thread of the process has exited.
func (p *labProc) exited() bool {
	if !p.exitedAt.IsZero() {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err == nil && n == 1 {
		p.exitedAt = time.Now()
		return true
	}
	return false
}

func (p *labProc) describe() string {
	state := "?"
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid)); err == nil {
		if i := bytes.LastIndexByte(data, ')'); i > 0 && i+2 < len(data) {
			state = string(data[i+2])
		}
	}
	threads := map[string]int{}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.pid))
	for _, task := range tasks {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", p.pid, task.Name())); err == nil {
			if i := bytes.LastIndexByte(data, ')'); i > 0 && i+2 < len(data) {
				threads[string(data[i+2])]++
			}
		}
	}
	return fmt.Sprintf("pid %d (%s): state %s, threads by state %v", p.pid, p.what, state, threads)
}

type labProcs []*labProc

func (l labProcs) close() {
	for _, p := range l {
		_ = unix.Close(p.fd)
	}
}

func (l labProcs) has(pid int) bool {
	for _, p := range l {
		if p.pid == pid {
			return true
		}
	}
	return false
}

func (l labProcs) String() string {
	var s []string
	for _, p := range l {
		s = append(s, fmt.Sprintf("%d %s", p.pid, p.what))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// labProcesses finds every process of the named lab: those its state records, those inside
// one of its namespaces, and those whose command line names its namespaces or its state
// directory (a daemon started but not yet in its namespace or not yet recorded).
func labProcesses(t *testing.T, name string) labProcs {
	t.Helper()
	what := map[int]string{}
	if st, err := netns.LoadState(name); err == nil {
		for _, p := range st.Processes {
			if startTime(p.PID) == p.StartTime {
				what[p.PID] = "recorded " + p.Name
			}
		}
	}
	inodes := map[string]string{}
	for _, ns := range ourNamespaces(t, name) {
		var st syscall.Stat_t
		if err := syscall.Stat(netns.NamespacePath(ns), &st); err == nil {
			inodes[fmt.Sprintf("net:[%d]", st.Ino)] = ns
		}
	}
	markers := [][]byte{[]byte(netns.NamespacePath(netns.Prefix + name + "-")), []byte(netns.LabDir(name) + "/")}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net")); err == nil && inodes[link] != "" {
			what[pid] += " in " + inodes[link]
		}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil {
			for _, m := range markers {
				if bytes.Contains(cmdline, m) {
					what[pid] += " cmdline " + string(bytes.ReplaceAll(firstN(cmdline, 80), []byte{0}, []byte{' '}))
					break
				}
			}
		}
	}
	var out labProcs
	for pid, w := range what {
		if w == "" {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // exited since
		}
		out = append(out, &labProc{pid: pid, fd: fd, what: strings.TrimSpace(w)})
	}
	return out
}

func firstN(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// startTime is the kernel start time of a process (field 22 of its stat), 0 when it is gone.
func startTime(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}
