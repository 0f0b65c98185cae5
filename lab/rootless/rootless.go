// Package rootless runs the lab without root on Linux. A holder process, started by reachgate
// for the user, owns a user namespace (the user mapped to root in it), a mount namespace with a
// fresh tmpfs on /run (where the lab keeps /run/netns and /run/reachgate) and an empty network
// namespace that stands for the lab machine's root namespace. Every lab command of that user
// runs inside those three namespaces through nsenter, so the lab's namespaces, links, mounts and
// processes exist only there: nothing is created in the host's namespaces.
//
// The holder is recorded in holder.json under Dir(). When no lab is left in it, the command
// that removed the last one (lab down, lab gc, the end of e2e) stops the holder and every
// process still in its user namespace. After a kill -9 of the holder the lab's processes keep
// the namespaces alive; they are found by their user namespace, entered through one of them,
// and removed by lab gc.
package rootless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Hidden first arguments of the reachgate binary, handled by Main before anything else.
const (
	holderArg = "__rootless-holder"
	probeArg  = "__rootless-probe"
)

// HolderEnv is set, to the holder's PID, in every command run inside the namespaces.
const HolderEnv = "REACHGATE_ROOTLESS_HOLDER"

// wdEnv carries the working directory into the namespaces. (nsenter --wd opens the directory
// before it enters the mount namespace, so that directory is unreachable from inside it.)
const wdEnv = "REACHGATE_ROOTLESS_WD"

// Holder is the recorded holder process.
type Holder struct {
	PID int `json:"pid"`
	// Start is the process's start time in clock ticks (/proc/PID/stat field 22): a PID the
	// kernel reused for another process does not match it.
	Start uint64 `json:"start"`
	// UserNS is the inode of the user namespace: it finds the lab's processes after the holder died.
	UserNS  uint64    `json:"userNamespace"`
	UID     int       `json:"uid"`
	Created time.Time `json:"created"`
}

// Needed reports whether lab commands must run inside the user's namespaces (not root, on
// Linux; elsewhere labs run in a container).
func Needed() bool { return runtime.GOOS == "linux" && os.Geteuid() != 0 }

// Dir is where the holder is recorded: $REACHGATE_ROOTLESS_DIR, or reachgate/rootless in the
// user's cache directory.
func Dir() string {
	if d := os.Getenv("REACHGATE_ROOTLESS_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "reachgate", "rootless")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("reachgate-rootless-%d", os.Getuid()))
}

func recordPath() string { return filepath.Join(Dir(), "holder.json") }

// Main runs the hidden entry points (the holder, the probe). It returns false when args (the
// process's arguments without the program) are not one of them.
func Main(args []string) (handled bool, code int) {
	// A command entered into the namespaces starts where the user ran it (see enter).
	if wd := os.Getenv(wdEnv); wd != "" {
		_ = os.Unsetenv(wdEnv)
		if err := os.Chdir(wd); err != nil {
			fmt.Fprintf(os.Stderr, "reachgate: rootless: cannot enter the working directory %s inside the lab namespaces: %v\n", wd, err)
			return true, 1
		}
		_ = os.Setenv("PWD", wd)
	}
	if len(args) == 0 {
		return false, 0
	}
	switch args[0] {
	case holderArg:
		return true, holderMain(len(args) > 1 && args[1] == "adopt")
	case probeArg:
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, "reachgate: rootless namespaces:", err)
			return true, 125
		}
		if len(args) < 2 {
			return true, 0
		}
		path, err := exec.LookPath(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "reachgate:", err)
			return true, 127
		}
		err = syscall.Exec(path, args[1:], os.Environ())
		fmt.Fprintln(os.Stderr, "reachgate: exec", args[1], err)
		return true, 126
	}
	return false, 0
}

// rootNet names the network namespace that stands for the lab machine's root namespace,
// inside the mount namespace (not under /run/netns, which holds the lab's own).
const rootNet = "/run/reachgate-rootless/net"

// holderMain is the holder: set up (unless it adopts namespaces whose holder died), say ready
// on fd 3, then wait for SIGTERM.
func holderMain(adopt bool) int {
	ready := os.NewFile(3, "ready")
	if !adopt {
		if err := setup(); err != nil {
			fmt.Fprintln(ready, "error:", err)
			return 1
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	fmt.Fprintln(ready, "ready")
	ready.Close()
	<-sig
	return 0
}

// ProbeCommand returns a command that runs argv in throw-away user, mount and network
// namespaces set up as the holder's are (doctor probes the kernel with it).
func ProbeCommand(ctx context.Context, argv ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := exec.CommandContext(ctx, self, append([]string{probeArg}, argv...)...)
	c.SysProcAttr = attrs()
	c.SysProcAttr.Setsid = false
	return c, nil
}

// Refusal names the kernel setting that refuses unprivileged user namespaces and the
// one-line fix, reading the sysctls through read (os.ReadFile outside tests). Both are empty
// when none of them refuses.
func Refusal(read func(string) ([]byte, error)) (why, fix string) {
	val := func(p string) string {
		b, err := read(p)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	switch {
	case val("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
		return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later)",
			"sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or run the lab as root)"
	case val("/proc/sys/kernel/unprivileged_userns_clone") == "0":
		return "the kernel forbids unprivileged user namespaces (kernel.unprivileged_userns_clone=0)",
			"sudo sysctl -w kernel.unprivileged_userns_clone=1 (or run the lab as root)"
	case val("/proc/sys/user/max_user_namespaces") == "0":
		return "user namespaces are disabled (user.max_user_namespaces=0)",
			"sudo sysctl -w user.max_user_namespaces=15000 (or run the lab as root)"
	}
	return "", ""
}

// Explain wraps a failure to make the namespaces with the kernel setting behind it, if known.
func Explain(err error) error {
	if why, fix := Refusal(os.ReadFile); why != "" {
		return fmt.Errorf("%s: %w; fix: %s", why, err, fix)
	}
	return fmt.Errorf("cannot make a user namespace for the lab without root: %w; run the lab as root, or see 'reachgate doctor'", err)
}

// procStat returns the fields of /proc/PID/stat after the command name (field 3 first), or
// nil when the process is gone or a zombie (it has exited: only its parent's wait is missing).
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return nil
	}
	return f
}

// procStart returns a running process's start time in clock ticks, or 0 when it is gone.
func procStart(pid int) uint64 {
	f := procStat(pid)
	if f == nil {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// userNS returns the inode of a process's user namespace, or 0 when it cannot be read.
func userNS(pid int) uint64 {
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "user:["), "]"), 10, 64)
	return v
}

// Alive reports whether the recorded holder process still runs.
func (h *Holder) Alive() bool {
	return h != nil && h.PID > 0 && procStart(h.PID) == h.Start && userNS(h.PID) == h.UserNS
}

// Members lists the processes in the holder's user namespace (the holder, the lab's daemons,
// commands running inside), by PID.
func (h *Holder) Members() []int {
	if h == nil || h.UserNS == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if userNS(pid) == h.UserNS && procStat(pid) != nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// target is a process to enter the namespaces through: the holder, or after it died any
// process still in its user namespace (0 when none is left).
func (h *Holder) target() int {
	if h.Alive() {
		return h.PID
	}
	if m := h.Members(); len(m) > 0 {
		return m[0]
	}
	return 0
}

// Load reads the record; nil when there is none.
func Load() (*Holder, error) {
	b, err := os.ReadFile(recordPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it when no rootless lab runs)", recordPath(), err)
	}
	if h.UID != os.Getuid() {
		return nil, fmt.Errorf("%s records a holder of uid %d, not this user's (%d); set REACHGATE_ROOTLESS_DIR to a directory of your own", recordPath(), h.UID, os.Getuid())
	}
	return &h, nil
}

func (h *Holder) save() error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	tmp := recordPath() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, recordPath())
}

// start launches a new holder in new namespaces, or with member > 0 one that adopts the
// namespaces of that process (their holder died), and records it.
func start(ctx context.Context, member int) (*Holder, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c := exec.Command(self, holderArg)
	c.SysProcAttr = attrs()
	if member > 0 {
		// The member may sit in one of the lab's namespaces: the holder joins the root one,
		// named in the member's mount namespace.
		c = exec.Command("nsenter", "--target", strconv.Itoa(member), "--user", "--mount",
			fmt.Sprintf("--net=/proc/%d/root%s", member, rootNet), "--preserve-credentials", "--", self, holderArg, "adopt")
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	c.ExtraFiles = []*os.File{w}
	c.Dir = "/"
	if err := c.Start(); err != nil {
		w.Close()
		return nil, Explain(err)
	}
	w.Close()
	line := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 4096))
		line <- strings.TrimSpace(string(b))
	}()
	var msg string
	select {
	case msg = <-line:
	case <-time.After(10 * time.Second):
		msg = "no answer within 10 s"
	case <-ctx.Done():
		msg = ctx.Err().Error()
	}
	if msg != "ready" {
		_ = c.Process.Kill()
		_ = c.Wait()
		return nil, Explain(errors.New(strings.TrimPrefix(msg, "error: ")))
	}
	h := &Holder{PID: c.Process.Pid, Start: procStart(c.Process.Pid), UserNS: userNS(c.Process.Pid), UID: os.Getuid(), Created: time.Now().UTC()}
	// The holder outlives this command; should it end first, it is reaped here.
	go func() { _ = c.Wait() }()
	if h.Start == 0 || h.UserNS == 0 {
		return nil, fmt.Errorf("the namespace holder (PID %d) exited right after it started", h.PID)
	}
	if err := h.save(); err != nil {
		_ = syscall.Kill(h.PID, syscall.SIGKILL)
		return nil, err
	}
	return h, nil
}

// ErrNoHolder is returned by Run when create is false and no namespaces are held.
var ErrNoHolder = errors.New("no rootless lab namespaces are held for this user")

// Run runs reachgate with args inside the user's lab namespaces, starting the holder first when
// create is true and none is held, and returns the command's exit status. Afterwards, when no
// lab is left, the holder and every process in its namespaces are stopped.
func Run(ctx context.Context, args []string, create bool, stderr io.Writer) (int, error) {
	if err := os.MkdirAll(Dir(), 0o700); err != nil {
		return 0, err
	}
	lock, err := os.OpenFile(filepath.Join(Dir(), "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return 0, err
	}
	h, err := Load()
	if err != nil {
		return 0, err
	}
	pid := 0
	if h != nil {
		pid = h.target()
		switch {
		case pid == 0:
			_ = os.Remove(recordPath())
			h = nil
		case pid != h.PID:
			// The holder died (kill -9) while the lab's processes live on: a new holder adopts
			// their namespaces, so they stay reachable when those processes end.
			old := h.PID
			if h, err = start(ctx, pid); err != nil {
				_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
				return 0, fmt.Errorf("rootless: the namespace holder (PID %d) is gone and adopting its namespaces failed: %w", old, err)
			}
			pid = h.PID
			fmt.Fprintf(stderr, "rootless: the namespace holder (PID %d) was gone; PID %d holds the lab namespaces now\n", old, h.PID)
		}
	}
	if h == nil {
		if !create {
			_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
			return 0, ErrNoHolder
		}
		if h, err = start(ctx, 0); err != nil {
			_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
			return 0, err
		}
		pid = h.PID
		fmt.Fprintf(stderr, "rootless: lab namespaces held by PID %d (user namespace %d, record %s)\n", h.PID, h.UserNS, recordPath())
	}
	// Others may enter beside this command; only stopping the holder takes the lock alone.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
		return 0, err
	}
	code, err := enter(ctx, pid, h.PID, args)
	_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if rerr := reap(lock, stderr); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return code, err
}

// enter runs reachgate args in the namespaces of process pid, passing signals on. The user's
// credentials are kept: its uid is root in the namespace (nsenter's own switch to uid 0 would
// call setgroups, which the namespace denies).
func enter(ctx context.Context, pid, holder int, args []string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = "/"
	}
	argv := []string{"--target", strconv.Itoa(pid), "--user", "--mount", "--net", "--preserve-credentials", "--", self}
	c := exec.Command("nsenter", append(argv, args...)...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.Env = append(os.Environ(), fmt.Sprintf("%s=%d", HolderEnv, holder), wdEnv+"="+wd)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("nsenter (util-linux) into the lab namespaces: %w", err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = c.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = c.Wait()
	close(done)
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return xe.ExitCode(), nil
	}
	return 0, err
}

// labsIn lists the labs whose state is in the namespaces of process pid.
func labsIn(pid int) ([]string, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/root/run/reachgate/labs", pid))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}

// labsLeft reports whether any lab state is left in the namespaces of process pid.
func labsLeft(pid int) (bool, error) {
	names, err := labsIn(pid)
	if err != nil {
		return true, err
	}
	return len(names) > 0, nil
}

// Labs reads the user's record and lists the labs inside its namespaces: holder is nil when
// none is recorded; running is false when the namespaces are gone (lab gc removes the record).
func Labs() (h *Holder, running bool, labs []string, err error) {
	if h, err = Load(); err != nil || h == nil {
		return h, false, nil, err
	}
	pid := h.target()
	if pid == 0 {
		return h, false, nil, nil
	}
	labs, err = labsIn(pid)
	return h, true, labs, err
}

// reap stops the holder and every process in its namespaces when no lab is left and no other
// command is inside.
func reap(lock *os.File, stderr io.Writer) error {
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil // another command is inside; the last one out reaps
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	h, err := Load()
	if err != nil || h == nil {
		return err
	}
	pid := h.target()
	if pid != 0 {
		left, err := labsLeft(pid)
		if err != nil {
			return fmt.Errorf("rootless: cannot see the labs in the namespaces of PID %d: %w", pid, err)
		}
		if left {
			return nil
		}
	}
	n, err := Stop(h, 5*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rootless: no lab left; stopped the namespace holder (PID %d) and %d processes\n", h.PID, n)
	return nil
}

// Stop ends the holder and every process in its user namespace (TERM, then KILL after
// grace), waits until they are gone, and removes the record. It returns how many processes
// it stopped.
func Stop(h *Holder, grace time.Duration) (int, error) {
	pids := h.Members()
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for len(h.Members()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range h.Members() {
		_ = syscall.Kill(p, syscall.SIGKILL)
		if !slices.Contains(pids, p) {
			pids = append(pids, p)
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(h.Members()) > 0 {
		if time.Now().After(deadline) {
			return len(pids), fmt.Errorf("rootless: processes %v are still in the lab's user namespace after KILL", h.Members())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.Remove(recordPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return len(pids), err
	}
	return len(pids), nil
}
