package netns

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// child is a process started by the test and reaped in the background, so its exit makes
// the PID vanish as it would for a daemon Stop signals.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	p      Process
}

func startChild(t *testing.T, name string, args ...string) *child {
	t.Helper()
	return startCmd(t, exec.Command(name, args...))
}

// startCmd starts cmd as a child (see startChild).
func startCmd(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	name := cmd.Path
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
	})
	st, err := procStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatalf("procStartTime(%d): %v", cmd.Process.Pid, err)
	}
	c.p = Process{Name: name, PID: cmd.Process.Pid, StartTime: st}
	return c
}

func (c *child) gone(wait time.Duration) bool {
	select {
	case <-c.exited:
		return true
	case <-time.After(wait):
		return false
	}
}

// waitComm waits until the PID runs the named program (after a shell's exec).
func waitComm(t *testing.T, pid int, comm string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		if err == nil && strings.TrimSpace(string(data)) == comm {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d never became %s", pid, comm)
}

func TestProcStartTime(t *testing.T) {
	t.Parallel()
	self, err := procStartTime(os.Getpid())
	if err != nil || self == 0 {
		t.Fatalf("procStartTime(self) = %d, %v; want a start time", self, err)
	}
	c := startChild(t, "sleep", "30")
	if c.p.StartTime < self {
		t.Errorf("child started at %d, before its parent at %d", c.p.StartTime, self)
	}
	if _, err := procStartTime(-1); err == nil {
		t.Errorf("procStartTime(-1): got nil error; want one")
	}
}

func TestProcessRunning(t *testing.T) {
	t.Parallel()
	c := startChild(t, "sleep", "30")
	tests := []struct {
		name string
		p    Process
		want bool
	}{
		{"recorded process", c.p, true},
		{"start time unknown (PID alone is not trusted)", Process{PID: c.p.PID}, false},
		{"recycled PID (other start time)", Process{PID: c.p.PID, StartTime: c.p.StartTime + 1}, false},
		{"no PID", Process{}, false},
		{"negative PID", Process{PID: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Running(); got != tt.want {
				t.Errorf("Running() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestProcessStop(t *testing.T) {
	t.Parallel()
	c := startChild(t, "sleep", "30")
	start := time.Now()
	if err := c.p.Stop(context.Background(), 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !c.gone(5 * time.Second) {
		t.Fatal("process still runs after Stop")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Stop took %v; want SIGTERM to end sleep well within the grace period", d)
	}
	if c.p.Running() {
		t.Errorf("Running() = true after Stop; want false")
	}
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGTERM {
		t.Errorf("got exit %v; want killed by SIGTERM", c.cmd.ProcessState)
	}
}

func TestProcessStopRecycledPID(t *testing.T) {
	t.Parallel()
	c := startChild(t, "sleep", "30")
	impostor := Process{Name: "etcd", PID: c.p.PID, StartTime: c.p.StartTime + 1}
	if err := impostor.Stop(context.Background(), 100*time.Millisecond); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if c.gone(300 * time.Millisecond) {
		t.Fatal("Stop signalled a process whose start time differs from the recorded one")
	}
	if !c.p.Running() {
		t.Error("Running() = false for the untouched process; want true")
	}
}

func TestProcessStopExited(t *testing.T) {
	t.Parallel()
	c := startChild(t, "sleep", "30")
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if !c.gone(5 * time.Second) {
		t.Fatal("child did not exit")
	}
	if c.p.Running() {
		t.Error("Running() = true for an exited process; want false")
	}
	if err := c.p.Stop(context.Background(), time.Second); err != nil {
		t.Errorf("Stop on an exited process = %v; want nil", err)
	}
	if err := (Process{}).Stop(context.Background(), time.Second); err != nil {
		t.Errorf("Stop on a zero Process = %v; want nil", err)
	}
}

func TestProcessZombieNotRunning(t *testing.T) {
	t.Parallel()
	// Not reaped by a Wait goroutine: after the kill it stays a zombie until Wait.
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	st, err := procStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	p := Process{PID: cmd.Process.Pid, StartTime: st}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Running() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Running() {
		t.Error("Running() = true for a zombie; want false")
	}
	if _, err := procStartTime(p.PID); err != nil {
		t.Errorf("zombie's /proc entry gone before Wait (%v); the test no longer covers zombies", err)
	}
}

func TestProcessStopEscalates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ctx     func() context.Context
		grace   time.Duration
		maxTime time.Duration
	}{
		{"grace expires", context.Background, 200 * time.Millisecond, 4 * time.Second},
		{"context canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, time.Minute, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// SIGTERM is ignored, and the ignore survives exec: only SIGKILL ends it.
			c := startChild(t, "sh", "-c", `trap "" TERM; exec sleep 30`)
			waitComm(t, c.p.PID, "sleep")
			start := time.Now()
			if err := c.p.Stop(tt.ctx(), tt.grace); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if !c.gone(5 * time.Second) {
				t.Fatal("process still runs after Stop")
			}
			if d := time.Since(start); d > tt.maxTime {
				t.Errorf("Stop took %v; want at most %v", d, tt.maxTime)
			}
			if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
				t.Errorf("got exit %v; want killed by SIGKILL", c.cmd.ProcessState)
			}
		})
	}
}

func TestStateStart(t *testing.T) {
	stateRoot(t)
	s := &State{Name: "start", Dir: LabDir("start")}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Start(StartSpec{Name: "sleeper", Path: sleep, Args: []string{"30"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background(), time.Second) })
	if p.PID <= 0 || p.StartTime == 0 {
		t.Errorf("got PID %d start time %d; want both set", p.PID, p.StartTime)
	}
	if !p.Running() {
		t.Error("Running() = false right after Start; want true")
	}
	if want := s.Path("logs", "sleeper.log"); p.Log != want {
		t.Errorf("got log %v; want %v", p.Log, want)
	}
	if _, err := os.Stat(p.Log); err != nil {
		t.Errorf("log file: %v", err)
	}
	// Its own session, so the caller's Ctrl-C does not reach it.
	if sid, err := getsid(p.PID); err != nil || sid != p.PID {
		t.Errorf("got session %d (%v); want the process to lead its own session %d", sid, err, p.PID)
	}
	loaded, err := LoadState("start")
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if len(loaded.Processes) != 1 || loaded.Processes[0] != p {
		t.Errorf("got recorded processes %+v; want [%+v]", loaded.Processes, p)
	}
	if err := p.Stop(context.Background(), 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.Running() {
		t.Error("Running() = true after Stop; want false")
	}
}

func getsid(pid int) (int, error) {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(sid), nil
}
