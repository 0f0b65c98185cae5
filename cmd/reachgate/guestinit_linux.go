package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// guestInit is a lab instance's init: it runs the startup script, adopts whatever the script
// leaves running (the agent it starts in the background) and reaps it, as a VM's init does,
// so nothing a guest ran stays behind as a zombie. Whoever stops the guest (a reset, lab
// down) signals every process of it; on SIGTERM the init exits once its children have.
func guestInit(script string) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("guest init: become a subreaper: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	cmd := exec.Command(script)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("guest init: run the startup script: %w", err)
	}
	fmt.Fprintf(os.Stderr, "guest init: startup script %s started (pid %d)\n", script, cmd.Process.Pid)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	stopping := false
	for {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.ECHILD) {
				if stopping {
					return nil
				}
				break
			}
			if err != nil && !errors.Is(err, syscall.EINTR) {
				return fmt.Errorf("guest init: %w", err)
			}
			if pid <= 0 {
				break
			}
			if pid == cmd.Process.Pid {
				fmt.Fprintf(os.Stderr, "guest init: startup script exited %d\n", ws.ExitStatus())
			}
		}
		select {
		case <-sigs:
			stopping = true
		case <-tick.C:
		}
	}
}
