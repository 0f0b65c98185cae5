package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// KillWait bounds the wait for a process to exit after SIGKILL. A process takes longer only
// when it is stuck in the kernel (state D); teardown then fails instead of claiming it is done.
var KillWait = 10 * time.Second

// handle is a process held for signalling and waiting: by a pidfd where the kernel has
// them, so a recycled PID is never signalled and exit means that every thread has exited
// (the pidfd polls readable then); otherwise by PID, with /proc telling the exit.
type handle struct {
	pid int
	fd  int // -1 without a pidfd
}

// openPID holds a running process; nil when it has exited (zombies included).
func openPID(pid int) *handle {
	if pid <= 0 {
		return nil
	}
	fd, err := pidfdOpen(pid)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	h := &handle{pid: pid, fd: fd}
	if err != nil {
		h.fd = -1
	}
	if h.exited() {
		h.close()
		return nil
	}
	return h
}

// open holds the recorded process, checking its start time after the pidfd is open so the
// pidfd names the recorded process and not a later one with its PID; nil when it has exited.
func (p Process) open() *handle {
	if p.PID <= 0 || p.StartTime == 0 {
		return nil
	}
	h := openPID(p.PID)
	if h == nil {
		return nil
	}
	if st, err := procStartTime(p.PID); err != nil || st != p.StartTime {
		h.close()
		return nil
	}
	return h
}

func (h *handle) close() {
	if h.fd >= 0 {
		_ = unix.Close(h.fd)
		h.fd = -1
	}
}

// exited reports, without blocking, whether every thread of the process has exited. A
// zombie has (what is left is its exit status), but a thread group leader that has exited
// while other threads still run or still release the process's memory, files and sockets
// has not: its /proc state is Z too, so /proc is read thread by thread.
func (h *handle) exited() bool {
	if h.fd >= 0 {
		fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0
	}
	return !threadsAlive(h.pid)
}

// threadsAlive reports whether a thread of pid is neither a zombie nor dead.
func threadsAlive(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue
		}
		if s := procState(string(data)); s != 'Z' && s != 'X' && s != 0 {
			return true
		}
	}
	return false
}

// procState is the state letter of a /proc stat line, 0 when it does not parse.
func procState(stat string) byte {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

func (h *handle) signal(sig syscall.Signal) error {
	var err error
	if h.fd >= 0 {
		err = pidfdSendSignal(h.fd, sig)
	} else {
		err = syscall.Kill(h.pid, sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// waitAll waits until every process has exited, d has passed or ctx is done, and returns
// those still running.
func waitAll(ctx context.Context, hs []*handle, d time.Duration) []*handle {
	deadline := time.Now().Add(d)
	for {
		var left []*handle
		for _, h := range hs {
			if !h.exited() {
				left = append(left, h)
			}
		}
		hs = left
		remaining := time.Until(deadline)
		if len(hs) == 0 || remaining <= 0 || ctx.Err() != nil {
			return hs
		}
		// A pidfd polls readable at exit; without pidfds, /proc is read every 10 ms.
		step := min(remaining, 50*time.Millisecond)
		if hs[0].fd < 0 {
			step = min(remaining, 10*time.Millisecond)
		}
		fds := make([]unix.PollFd, 0, len(hs))
		for _, h := range hs {
			if h.fd >= 0 {
				fds = append(fds, unix.PollFd{Fd: int32(h.fd), Events: unix.POLLIN})
			}
		}
		if len(fds) == len(hs) {
			_, _ = unix.Poll(fds, int(step.Milliseconds())+1)
		} else {
			time.Sleep(step)
		}
	}
}

// terminate ends processes: SIGTERM (and SIGCONT), up to grace for them to exit (cut short when ctx is
// done), SIGKILL for the rest, and a wait for their exit of at most KillWait, which ctx does
// not cut: a caller that goes on must not meet them. It closes the handles and returns an
// error naming any process still running.
func terminate(ctx context.Context, hs []*handle, grace time.Duration) error {
	defer func() {
		for _, h := range hs {
			h.close()
		}
	}()
	var errs []error
	for _, h := range hs {
		if err := h.signal(syscall.SIGTERM); err != nil {
			errs = append(errs, fmt.Errorf("SIGTERM pid %d: %w", h.pid, err))
		}
		// A stopped process acts on SIGTERM only once continued.
		_ = h.signal(syscall.SIGCONT)
	}
	left := waitAll(ctx, hs, grace)
	return errors.Join(append(errs, kill(left))...)
}

// kill sends SIGKILL and waits up to KillWait for the exit.
func kill(hs []*handle) error {
	if len(hs) == 0 {
		return nil
	}
	var errs []error
	for _, h := range hs {
		if err := h.signal(syscall.SIGKILL); err != nil {
			errs = append(errs, fmt.Errorf("SIGKILL pid %d: %w", h.pid, err))
		}
	}
	for _, h := range waitAll(context.Background(), hs, KillWait) {
		errs = append(errs, fmt.Errorf("pid %d still runs %v after SIGKILL (state %s)", h.pid, KillWait, describe(h.pid)))
	}
	return errors.Join(errs...)
}

// describe is a process's state letters, its own and its threads', for error messages.
func describe(pid int) string {
	var states []string
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name())); err == nil {
			states = append(states, t.Name()+":"+string(procState(string(data))))
		}
	}
	return strings.Join(states, " ")
}

// pidsWhere lists the PIDs under /proc for which match holds, except the caller and its
// ancestors (a teardown run from inside a lab's namespace does not end itself).
func pidsWhere(match func(dir string) bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	skip := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !skip[pid]; pid = parentPID(pid) {
		skip[pid] = true
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || skip[pid] {
			continue
		}
		if match("/proc/" + e.Name()) {
			out = append(out, pid)
		}
	}
	return out
}

// parentPID is the parent of pid, 0 when it is unknown.
func parentPID(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
