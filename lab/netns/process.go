package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StartSpec describes a long-running process started inside a namespace.
type StartSpec struct {
	Name      string // short name, e.g. "etcd"
	Namespace string // network namespace, "" for the root namespace
	Path      string
	Args      []string
	Env       []string
	Dir       string
}

// Start launches a daemon inside its namespace, detached from the caller's session, with
// output in <state>/logs/<name>.log; it is recorded in the state before Start returns.
func (s *State) Start(spec StartSpec) (Process, error) {
	logPath := s.Path("logs", strings.ReplaceAll(spec.Name, "/", "_")+".log")
	if err := os.MkdirAll(s.Path("logs"), 0o700); err != nil {
		return Process{}, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Process{}, fmt.Errorf("open log for %s: %w", spec.Name, err)
	}
	defer logf.Close()
	argv := append([]string{spec.Path}, spec.Args...)
	if spec.Namespace != "" {
		argv = append([]string{"nsenter", "--net=" + NamespacePath(spec.Namespace), "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	// Own session: Ctrl-C in the caller's terminal does not reach the daemon; Down stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Process{}, fmt.Errorf("start %s in %s: %w", spec.Name, spec.Namespace, err)
	}
	p := Process{Name: spec.Name, PID: cmd.Process.Pid, Namespace: spec.Namespace, Log: logPath}
	if p.StartTime, err = procStartTime(p.PID); err != nil {
		_ = cmd.Process.Kill()
		return Process{}, fmt.Errorf("identify %s (pid %d): %w", spec.Name, p.PID, err)
	}
	// Reap it if it dies while this process lives, so Running sees the exit.
	go func() { _ = cmd.Wait() }()
	err = s.Update(func(s *State) error {
		s.Processes = append(s.Processes, p)
		return nil
	})
	return p, err
}

// NamespacePath is the bind-mount path of a named namespace.
func NamespacePath(ns string) string { return "/run/netns/" + ns }

// Running reports whether the recorded process still runs (same PID and start time).
func (p Process) Running() bool {
	// Without a start time a PID alone could name a recycled, unrelated process.
	if p.PID <= 0 || p.StartTime == 0 {
		return false
	}
	st, err := procStartTime(p.PID)
	if err != nil || st != p.StartTime {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	// A zombie (state Z) is dead for our purposes.
	if i := strings.LastIndexByte(string(data), ')'); i > 0 && i+2 < len(data) && data[i+2] == 'Z' {
		return false
	}
	return true
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL. A process that is gone is not an error.
func (p Process) Stop(ctx context.Context, grace time.Duration) error {
	if !p.Running() {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.Running() {
			return nil
		}
		select {
		case <-ctx.Done():
			deadline = time.Now()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if p.Running() {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
		for i := 0; i < 100 && p.Running(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// procStartTime reads the start time (clock ticks since boot) of a PID from /proc.
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// Field 22 of stat is starttime; fields here start at field 3 (state).
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
