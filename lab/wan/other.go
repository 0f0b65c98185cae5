//go:build !linux

package wan

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// errLinux: the WAN element runs only in the lab's Linux namespaces (on a Mac, in the lab container).
var errLinux = errors.New("the WAN element needs Linux (TUN devices, timerfd); run the lab in a container")

// Result is the self-check's result for one profile (Linux only).
type Result struct{ Profile string }

// Run is the WAN element daemon (Linux only).
func Run(context.Context, string, *slog.Logger) error { return errLinux }

// SelfCheck measures the WAN profiles (Linux only).
func SelfCheck(context.Context, string, string, []string, int, io.Writer) ([]Result, error) {
	return nil, errLinux
}
