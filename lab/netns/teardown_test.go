package netns

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"reachgate/lab/internal/roottest"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestGCLabLeavesOtherLabs(t *testing.T) {
	stateRoot(t)
	for _, name := range []string{"gcone", "gcone-x", "gctwo"} {
		// Failed labs owning nothing: what GC removes when it considers them.
		if err := (&State{Name: name, Phase: PhaseFailed, Dir: LabDir(name)}).Save(); err != nil {
			t.Fatal(err)
		}
	}
	if err := GCLab(context.Background(), "gcone", discardLog()); err != nil {
		t.Fatalf("GCLab: %v", err)
	}
	if _, err := os.Stat(LabDir("gcone")); !os.IsNotExist(err) {
		t.Errorf("lab gcone still has its state after GCLab (%v)", err)
	}
	for _, other := range []string{"gcone-x", "gctwo"} {
		if _, err := os.Stat(LabDir(other)); err != nil {
			t.Errorf("GCLab(gcone) touched lab %s: %v", other, err)
		}
	}
	if err := GCLab(context.Background(), "Not A Name", discardLog()); err == nil {
		t.Error("GCLab with an invalid lab name: got nil error; want one")
	}
}

// helperEnv makes the test binary act as a helper process instead of running tests.
const helperEnv = "REACHGATE_NETNS_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "leader-exits":
		// The main thread (the thread group leader) exits on its own, with exit rather than
		// exit_group, while another thread runs on: the leader's /proc state is Z, yet the
		// process lives, holding its memory, files and sockets.
		runtime.LockOSThread()
		go func() {
			for {
				time.Sleep(10 * time.Millisecond)
			}
		}()
		time.Sleep(50 * time.Millisecond)
		syscall.RawSyscall(syscall.SYS_EXIT, 0, 0, 0)
	}
	os.Exit(m.Run())
}

// exitedNow reports whether the process has exited (zombie or gone) at this instant.
func exitedNow(t *testing.T, pid int) bool {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
	return err == nil && n > 0
}

func TestProcessRunningUntilEveryThreadExits(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"=leader-exits")
	c := startCmd(t, cmd)
	deadline := time.Now().Add(5 * time.Second)
	for procStateOf(c.p.PID) != 'Z' {
		if time.Now().After(deadline) {
			t.Fatalf("the helper's leader thread did not exit (state %c)", procStateOf(c.p.PID))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !c.p.Running() {
		t.Fatal("Running() = false for a process whose leader thread exited but another thread runs; want true")
	}
	if err := c.p.Stop(context.Background(), 2*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !exitedNow(t, c.p.PID) {
		t.Errorf("process still runs when Stop returned (threads: %s)", describe(c.p.PID))
	}
	if c.p.Running() {
		t.Error("Running() = true after Stop; want false")
	}
}

func procStateOf(pid int) byte {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return procState(string(data))
}

func TestStopWaitsForExit(t *testing.T) {
	t.Parallel()
	// SIGTERM is ignored, and the ignore survives exec: only SIGKILL ends it. The check
	// right after Stop asks the kernel, not the reaping goroutine, whether it has exited.
	c := startChild(t, "sh", "-c", `trap "" TERM; exec sleep 30`)
	waitComm(t, c.p.PID, "sleep")
	if err := c.p.Stop(context.Background(), 100*time.Millisecond); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !exitedNow(t, c.p.PID) {
		t.Fatal("process still runs when Stop returned")
	}
}

func TestStateStartRecordsBeforeRunning(t *testing.T) {
	stateRoot(t)
	s := &State{Name: "gate", Dir: LabDir("gate")}
	out := filepath.Join(t.TempDir(), "seen")
	// The daemon looks itself up in the state file the moment it runs.
	script := `grep -q "\"pid\": $$," state.json && echo recorded > ` + out + ` || echo unrecorded > ` + out + `; exec sleep 30`
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := s.Start(StartSpec{Name: "self-check", Path: "sh", Args: []string{"-c", script}, Dir: s.Dir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background(), time.Second) })
	deadline := time.Now().Add(5 * time.Second)
	var seen []byte
	for len(seen) == 0 && time.Now().Before(deadline) {
		seen, _ = os.ReadFile(out)
		time.Sleep(10 * time.Millisecond)
	}
	if got := strings.TrimSpace(string(seen)); got != "recorded" {
		t.Errorf("the daemon found itself %q in the state when it started; want recorded", got)
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains("\x00"+string(env), "\x00"+LabEnv+"="+s.Dir+"\x00") {
		t.Errorf("the daemon's environment lacks %s=%s", LabEnv, s.Dir)
	}
}

func TestLauncherExitsWhenStarterDiesFirst(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "ran")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", gateScript, "reachgate-launcher", "touch", out)
	cmd.ExtraFiles = []*os.File{r}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Close() // as when the starter dies before recording the launcher
	if err := cmd.Wait(); err == nil {
		t.Error("launcher exited 0 with its gate closed unopened; want a failure")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the daemon ran although its starter never recorded it (%v)", err)
	}
}

func TestDownStopsUnrecordedProcessesOfTheLab(t *testing.T) {
	stateRoot(t)
	st := &State{Name: "tagged", Phase: PhaseFailed, Dir: LabDir("tagged")}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	// Started by one of the lab's processes, so not in the state: only LabEnv leads to it.
	cmd := exec.Command("sh", "-c", `trap "" TERM; exec sleep 30`)
	cmd.Env = append(os.Environ(), LabEnv+"="+st.Dir)
	c := startCmd(t, cmd)
	waitComm(t, c.p.PID, "sleep")
	// Another lab's process is not touched.
	other := exec.Command("sleep", "30")
	other.Env = append(os.Environ(), LabEnv+"="+st.Dir+"-other")
	o := startCmd(t, other)
	if err := Down(context.Background(), st, discardLog()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if !exitedNow(t, c.p.PID) {
		t.Error("the lab's unrecorded process still runs when Down returned")
	}
	if !o.p.Running() {
		t.Error("Down stopped another lab's process")
	}
}

func TestKillAllWaitsForExit(t *testing.T) {
	roottest.Require(t)
	const ns = Prefix + "tdka-h-x"
	roottest.Namespaces(t, ns)
	cmd := exec.Command("nsenter", "--net="+NamespacePath(ns), "--", "sleep", "30")
	c := startCmd(t, cmd)
	waitComm(t, c.p.PID, "sleep")
	n, err := KillAll(context.Background(), ns)
	if err != nil || n != 1 {
		t.Fatalf("KillAll = %d, %v; want 1, nil", n, err)
	}
	if !exitedNow(t, c.p.PID) {
		t.Error("process in the namespace still runs when KillAll returned")
	}
	if _, err := KillAll(context.Background(), "not-ours"); err == nil {
		t.Error("KillAll on a namespace without reachgate's prefix: got nil error; want one")
	}
}
