package proxy

// TEMPORARY profiling hook; remove before finishing.

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

func tmpProfile() func() {
	dir := os.Getenv("REACHGATE_PROXY_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.out", os.Getpid())))
	if err != nil {
		return func() {}
	}
	pprof.StartCPUProfile(f)
	return func() { pprof.StopCPUProfile(); f.Close() }
}
