package netns

import (
	"context"
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

// LabEnv is set, to the lab's state directory, in the environment of every process a lab
// starts, and so of whatever those start in turn: Down finds them by it even when neither
// the state nor a namespace leads to them (a daemon that starts helpers, a launcher the
// scheduler has not run yet when its starter dies).
const LabEnv = "REACHGATE_LAB"

// gateScript is what a daemon starts as. It waits on fd 3 until the starter has recorded
// its PID, then execs the daemon (same PID and start time). When the starter dies before
// that, fd 3 reads end-of-file and the launcher exits without running anything: so a
// daemon never runs unrecorded.
const gateScript = `read -r line <&3 || exit 1; exec 3<&-; exec "$@"`

// Start launches a daemon inside its namespace, detached from the caller's session, with
// output in <state>/logs/<name>.log. It is recorded in the state before it runs: the
// process starts as a launcher that execs the daemon once the record is saved.
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
	argv = append([]string{"sh", "-c", gateScript, "reachgate-launcher"}, argv...)
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return Process{}, err
	}
	defer gateW.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{gateR}
	cmd.Env = append(append(os.Environ(), spec.Env...), LabEnv+"="+s.Dir)
	cmd.Dir = spec.Dir
	// Own session: Ctrl-C in the caller's terminal does not reach the daemon; Down stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	gateR.Close()
	if err != nil {
		return Process{}, fmt.Errorf("start %s in %s: %w", spec.Name, spec.Namespace, err)
	}
	// Reap it if it dies while this process lives, so Running sees the exit.
	go func() { _ = cmd.Wait() }()
	p := Process{Name: spec.Name, PID: cmd.Process.Pid, Namespace: spec.Namespace, Log: logPath}
	if p.StartTime, err = procStartTime(p.PID); err != nil {
		// Closing the gate unopened ends the launcher.
		return Process{}, fmt.Errorf("identify %s (pid %d): %w", spec.Name, p.PID, err)
	}
	if err := s.Update(func(s *State) error {
		s.Processes = append(s.Processes, p)
		return nil
	}); err != nil {
		return Process{}, fmt.Errorf("record %s: %w", spec.Name, err)
	}
	if _, err := gateW.Write([]byte("run\n")); err != nil {
		return p, fmt.Errorf("start %s: its launcher exited before it ran: %w", spec.Name, err)
	}
	return p, nil
}

// NamespacePath is the bind-mount path of a named namespace.
func NamespacePath(ns string) string { return "/run/netns/" + ns }

// Running reports whether the recorded process still runs (same PID and start time). A
// zombie does not; a process that is still exiting (a thread still runs or still releases
// its memory, files and sockets) does.
func (p Process) Running() bool {
	// Without a start time a PID alone could name a recycled, unrelated process.
	h := p.open()
	if h == nil {
		return false
	}
	h.close()
	return true
}

// Stop sends SIGTERM, waits up to grace (less when ctx is done), then sends SIGKILL, and
// returns once the process has exited: an error means it still runs. A process that is
// gone is not an error.
func (p Process) Stop(ctx context.Context, grace time.Duration) error {
	h := p.open()
	if h == nil {
		return nil
	}
	if err := terminate(ctx, []*handle{h}, grace); err != nil {
		return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
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
