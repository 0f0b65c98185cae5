package harness

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// quietNice is the scheduling priority of a quiet spec's own processes while it measures.
// The other suites' labs stay up while it runs (their specs wait, their daemons do not): on
// two cores their kube-apiservers and etcds take a quarter of the machine in bursts, and a
// burst in front of a measured request adds tens of milliseconds. At nice -10 the kernel's
// scheduler gives this suite and its lab about nine times the weight of the others.
const quietNice = -10

// labMark is the environment variable every daemon of a lab carries, set to the lab's state
// directory (lab/netns sets it, and Down and gc find the daemons by it).
const labMark = "REACHGATE_LAB"

// labProcesses lists the processes whose environment names a lab state directory called
// lab, and this process.
func labProcesses(lab string) []int {
	pids := []int{os.Getpid()}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return pids
	}
	suffix := []byte(string(filepath.Separator) + lab)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte(labMark+"=")); ok && bytes.HasSuffix(v, suffix) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// boost sets every thread of the lab's processes (and of this one) to nice until the returned
// restore is called, which puts back each thread's previous value. It looks again every
// 200 ms: a quiet spec starts daemons of its own (a WAN element on a link) and Go processes
// start threads as they go. It reports how many threads it changed in its first pass.
// Without the privilege to raise priority it changes nothing.
func boost(lab string, nice int) (restore func(), threads int) {
	var (
		mu   sync.Mutex
		prev = map[int]int{} // thread ID -> its nice before
		// A process this one starts while boosted inherits the raised priority: it is put
		// back to the priority this process had before.
		base = 0
	)
	if raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, os.Getpid()); err == nil {
		base = 20 - raw
	}
	pass := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, pid := range labProcesses(lab) {
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
