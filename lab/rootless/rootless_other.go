//go:build !linux

package rootless

import (
	"errors"
	"syscall"
)

// Without a Linux kernel there are no user namespaces: labs run in a container instead.
func setup() error { return errors.New("the rootless lab needs Linux; use the container runtime") }

func attrs() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
