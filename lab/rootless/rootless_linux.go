package rootless

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// setup runs first inside new user, mount and network namespaces: mounts stay private, /run
// becomes the lab's own tmpfs (the user's runtime dir under it is kept), loopback comes up.
func setup() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// The user's runtime directory (XDG_RUNTIME_DIR, under /run/user) stays reachable.
	var keep *os.File
	if rd := os.Getenv("XDG_RUNTIME_DIR"); strings.HasPrefix(rd, "/run/") {
		if f, err := os.OpenFile(rd, unix.O_PATH|unix.O_DIRECTORY, 0); err == nil {
			keep = f
			defer f.Close()
		}
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("mount a tmpfs on /run: %w", err)
	}
	if keep != nil {
		rd := os.Getenv("XDG_RUNTIME_DIR")
		if err := os.MkdirAll(rd, 0o700); err == nil {
			_ = syscall.Mount(fmt.Sprintf("/proc/self/fd/%d", keep.Fd()), rd, "", syscall.MS_BIND, "")
		}
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %v: %s", err, strings.TrimSpace(string(out)))
	}
	// The network namespace stays named in the mount namespace: a holder adopting the
	// namespaces after this one died joins it again.
	if err := os.MkdirAll(filepath.Dir(rootNet), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(rootNet, nil, 0o444); err != nil {
		return err
	}
	if err := syscall.Mount("/proc/self/ns/net", rootNet, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("keep the network namespace at %s: %w", rootNet, err)
	}
	return nil
}

// attrs are the namespaces of a holder or probe: the user mapped to root, with setgroups denied
// (what an unprivileged process may write to its gid_map).
func attrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Setsid:                     true,
	}
}
