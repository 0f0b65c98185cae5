// Package probe runs checks from a host's network position: TCP reachability with the
// outcome classified the way a platform engineer reads it, HTTPS requests verified
// against a CA bundle (with a timing breakdown), TLS inspection (chain, SAN, expiry,
// accepted protocol versions), latency distributions, kubectl invocations, and budgets
// that hold the measurements to limits per network profile. Run ties them together as
// `reachgate probe` does. Probes take a Dialer so the same code runs in the lab (sockets in
// a namespace) and on a real VM.
package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Dialer is the shape of net.Dialer.DialContext; provider.Host satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Outcome is the class of a connection attempt's result.
type Outcome string

// Outcomes, as named in expectations.
const (
	Connected   Outcome = "Connected"
	Timeout     Outcome = "Timeout"     // no answer at all: a cloud drops unrouted packets silently
	Refused     Outcome = "Refused"     // RST: routed, nothing listening
	Unreachable Outcome = "Unreachable" // ICMP unreachable from a router
	Failed      Outcome = "Failed"      // anything else
)

// TCPResult is the result of a TCP connect.
type TCPResult struct {
	Addr     string        `json:"addr"`
	Outcome  Outcome       `json:"outcome"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
}

// RemoteTCP is a host whose connections the harness cannot hold (a VM reached through
// reachgate's agent): it connects at its own position and reports the result.
type RemoteTCP interface {
	ProbeTCP(ctx context.Context, addr string, timeout time.Duration) (TCPResult, error)
}

// TCP connects to addr from d, waiting at most timeout; a RemoteTCP host connects itself.
func TCP(ctx context.Context, d Dialer, addr string, timeout time.Duration) TCPResult {
	if r, ok := d.(RemoteTCP); ok {
		res, err := r.ProbeTCP(ctx, addr, timeout)
		if err != nil {
			return TCPResult{Addr: addr, Outcome: Failed, Error: err.Error()}
		}
		return res
	}
	// The clock starts before the deadline is set, so a timed-out dial never measures less
	// than the timeout.
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	res := TCPResult{Addr: addr, Duration: time.Since(start), Outcome: Classify(err)}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	conn.Close()
	return res
}

// Classify names the outcome of a dial error (nil = Connected).
func Classify(err error) Outcome {
	switch {
	case err == nil:
		return Connected
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unreachable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	return Failed
}
