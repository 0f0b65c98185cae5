package netns

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Boost sets every thread of the lab's processes (those carrying LabEnv for it) and of the
// extra processes to nice until the returned restore is called, which puts back each
// thread's previous value. It looks again every 200 ms: the caller starts daemons of its own
// while boosted (a WAN element on a link) and Go processes start threads as they go. It
// reports how many threads it changed in its first pass. Without the privilege to raise
// priority it changes nothing.
func (s *State) Boost(nice int, extra ...int) (restore func(), threads int) {
	var (
		mu   sync.Mutex
		prev = map[int]int{} // thread ID -> its nice before
		// A process the caller starts while boosted inherits the raised priority: it is put
		// back to the priority the caller had before.
		base = 0
	)
	if raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
		base = 20 - raw
	}
	pass := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, pid := range append(labPIDs(s.Dir), extra...) {
			tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
			if err != nil {
				continue
			}
			for _, t := range tasks {
				tid, err := strconv.Atoi(t.Name())
				if err != nil {
					continue
				}
				if _, done := prev[tid]; done {
					continue
				}
				// The raw getpriority value is 20 - nice.
				raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
				if err != nil {
					continue
				}
				before := 20 - raw
				if before == nice {
					before = base
				}
				if syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice) == nil {
					prev[tid] = before
					n++
				}
			}
		}
		return n
	}
	threads = pass()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				pass()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-stopped
			pass() // what started since the last pass, raised by inheritance, goes back too
			mu.Lock()
			defer mu.Unlock()
			for tid, n := range prev {
				_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, n)
			}
		})
	}, threads
}
