//go:build !linux

package netns

import "syscall"

// Without pidfds processes are held by PID (see handle).
func pidfdOpen(int) (int, error) { return -1, syscall.ENOSYS }

func pidfdSendSignal(int, syscall.Signal) error { return syscall.ENOSYS }
