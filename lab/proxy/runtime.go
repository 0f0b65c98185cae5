package proxy

import (
	"os"
	"runtime/debug"
)

// The proxy is a small process next to a busy API server on the same
// machine; these settings keep its share of the CPU, and so its latency,
// low. The lab starts it with GOMAXPROCS=1 GOGC=400
// GODEBUG=schedtrace=2147483647 (lab/gke/containers.go):
//
//   - GOMAXPROCS=1: one thread runs Go code, like nginx's one worker.
//   - GOGC=400: the live heap is a few MB, so a collection comes every
//     several thousand requests instead of every few hundred.
//   - schedtrace with a period of 24.8 days prints nothing (at most a line
//     a month) but keeps the runtime's monitor thread from parking whenever
//     the process goes idle. Otherwise the first system call after every
//     idle moment wakes that thread (a futex call and a context switch),
//     and then it polls every 20 µs for a while: under load that cost the
//     proxy about a fifth of its CPU time (measured in the lab).

// defaultGCPercent is GOGC for a proxy whose environment does not set it.
const defaultGCPercent = 400

// applyRuntimeDefaults sets what the environment can set but did not.
func applyRuntimeDefaults() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
