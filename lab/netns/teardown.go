package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"
)

// LeftoverGrace is how long a process of a lab that its state does not record (found in one
// of its namespaces or by LabEnv) gets between SIGTERM and SIGKILL.
var LeftoverGrace = time.Second

// Down stops every process of the lab, deletes its namespaces and removes its state dir.
// It tolerates things already gone, so it also finishes an interrupted Up or Down. It
// returns once every process it stopped has exited (or with an error naming what still
// runs), so whatever comes next never meets a leftover of the lab.
func Down(ctx context.Context, st *State, log *slog.Logger) error {
	// Mark the lab as going away (lab processes stop adding to it) and read what it owns now.
	_ = st.Update(func(s *State) error { s.Phase = PhaseDown; return nil })
	var errs []error
	for i := len(st.Processes) - 1; i >= 0; i-- {
		p := st.Processes[i]
		if err := p.Stop(ctx, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	// What the lab's processes started, and a launcher whose starter died before recording
	// it: found by the environment every process of the lab inherits.
	if err := terminate(ctx, openAll(labPIDs(st.Dir)), LeftoverGrace); err != nil {
		errs = append(errs, fmt.Errorf("stop unrecorded processes of lab %s: %w", st.Name, err))
	}
	live, err := ListNamespaces(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	exists := map[string]bool{}
	for _, n := range live {
		exists[n] = true
	}
	removed := 0
	for i := len(st.Namespaces) - 1; i >= 0; i-- {
		ns := st.Namespaces[i]
		if !exists[ns] {
			continue
		}
		if err := deleteNamespace(ctx, ns); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	if len(errs) > 0 {
		return fmt.Errorf("tear down lab %s: %w", st.Name, errors.Join(errs...))
	}
	if err := os.RemoveAll(st.Dir); err != nil {
		return fmt.Errorf("remove lab state %s: %w", st.Dir, err)
	}
	log.Info("lab removed", "lab", st.Name, "namespaces", removed, "processes", len(st.Processes))
	return nil
}

// labPIDs lists the processes whose environment carries LabEnv for the lab in dir.
func labPIDs(dir string) []int { return markedPIDs(LabEnv + "=" + dir) }

// markedPIDs lists the processes whose environment carries mark ("NAME=value").
func markedPIDs(mark string) []int {
	tag := []byte(mark + "\x00")
	return pidsWhere(func(proc string) bool {
		env, err := os.ReadFile(proc + "/environ")
		if err != nil {
			return false
		}
		return bytes.HasPrefix(env, tag) || bytes.Contains(env, append([]byte{0}, tag...))
	})
}

// namespacePIDs lists the processes whose network namespace is ns.
func namespacePIDs(ns string) []int {
	var st syscall.Stat_t
	if err := syscall.Stat(NamespacePath(ns), &st); err != nil {
		return nil
	}
	link := fmt.Sprintf("net:[%d]", st.Ino)
	return pidsWhere(func(proc string) bool {
		l, err := os.Readlink(proc + "/ns/net")
		return err == nil && l == link
	})
}

// openAll holds the processes of pids that still run.
func openAll(pids []int) []*handle {
	var hs []*handle
	for _, pid := range pids {
		if h := openPID(pid); h != nil {
			hs = append(hs, h)
		}
	}
	return hs
}

// KillAll sends SIGKILL to every process inside one of the lab's namespaces, waits until
// they have exited, and returns how many it signalled.
func KillAll(ctx context.Context, ns string) (int, error) {
	return endAll(ctx, ns, 0)
}

// endAll ends every process inside a namespace of ours: SIGTERM and grace first unless grace
// is 0, then SIGKILL, and waits for the exits. It scans again until a scan finds nothing,
// since a process can enter the namespace while the others are stopped.
func endAll(ctx context.Context, ns string, grace time.Duration) (int, error) {
	if !strings.HasPrefix(ns, Prefix) {
		return 0, fmt.Errorf("namespace %s is not reachgate's", ns)
	}
	n, err := endWhile(ctx, func() []int { return namespacePIDs(ns) }, grace)
	if err != nil {
		return n, fmt.Errorf("end processes in %s: %w", ns, err)
	}
	return n, nil
}

// endWhile ends the processes list finds (SIGTERM and grace first unless grace is 0, then
// SIGKILL), waits for the exits, and lists again until a list is empty: a process can appear
// while the others are stopped.
func endWhile(ctx context.Context, list func() []int, grace time.Duration) (int, error) {
	n := 0
	for range 5 {
		hs := openAll(list())
		if len(hs) == 0 {
			return n, nil
		}
		n += len(hs)
		var err error
		if grace > 0 {
			err = terminate(ctx, hs, grace)
		} else {
			err = kill(hs)
			for _, h := range hs {
				h.close()
			}
		}
		if err != nil {
			return n, err
		}
	}
	return n, errors.New("processes keep appearing")
}

// deleteNamespace ends what still runs inside a namespace of ours, then deletes it.
func deleteNamespace(ctx context.Context, ns string) error {
	if _, err := endAll(ctx, ns, LeftoverGrace); err != nil {
		return err
	}
	if _, err := run(ctx, "", "ip", "netns", "del", ns); err != nil {
		return err
	}
	return nil
}

// OrphanGrace is how old a namespace with reachgate's prefix but no owning state must be
// before GC removes it.
var OrphanGrace = 2 * time.Minute

// GC removes the leftovers of dead labs: labs whose phase is not up or whose processes
// died, and namespaces with reachgate's prefix that no live lab owns.
func GC(ctx context.Context, log *slog.Logger) error { return gc(ctx, "", log) }

// GCLab is GC for one lab: it removes the named lab when it is dead, and the orphan
// namespaces named for it, and leaves every other lab and namespace alone (several labs,
// and several engineers' labs, share a machine).
func GCLab(ctx context.Context, name string, log *slog.Logger) error {
	if err := ValidName(name); err != nil {
		return err
	}
	return gc(ctx, name, log)
}

// gc is GC, restricted to the lab named only when it is not empty.
func gc(ctx context.Context, only string, log *slog.Logger) error {
	states, err := ListStates()
	if err != nil {
		return err
	}
	owned := map[string]bool{}
	var errs []error
	for _, st := range states {
		if only != "" && st.Name != only {
			// Another lab's namespaces are its own, whether it is alive or not.
			for _, ns := range st.Namespaces {
				owned[ns] = true
			}
			continue
		}
		if st.Alive() {
			for _, ns := range st.Namespaces {
				owned[ns] = true
			}
			log.Info("lab alive, kept", "lab", st.Name)
			continue
		}
		log.Info("removing dead lab", "lab", st.Name, "phase", st.Phase)
		if err := Down(ctx, st, log); err != nil {
			errs = append(errs, err)
		}
	}
	names, err := ListNamespaces(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, ns := range names {
		if !strings.HasPrefix(ns, Prefix) || owned[ns] {
			continue
		}
		if only != "" && !strings.HasPrefix(ns, Prefix+only+"-") {
			continue
		}
		// A namespace no state records may be one a lab or test is creating right now
		// (labs record before they create); only orphans past a grace period are removed.
		if fi, err := os.Stat(NamespacePath(ns)); err == nil && time.Since(fi.ModTime()) < OrphanGrace {
			log.Info("young orphan namespace kept (retry gc later)", "namespace", ns, "age", time.Since(fi.ModTime()).Round(time.Second).String())
			continue
		}
		log.Info("removing orphan namespace", "namespace", ns)
		if err := deleteNamespace(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EndMarked ends the processes whose environment carries mark ("NAME=value", e.g. a guest's
// REACHGATE_GUEST): SIGTERM, grace, SIGKILL, and waits until they have exited. A guest's
// reboot stops what its previous boot started this way, however it detached.
func EndMarked(ctx context.Context, mark string, grace time.Duration) (int, error) {
	n, err := endWhile(ctx, func() []int { return markedPIDs(mark) }, grace)
	if err != nil {
		return n, fmt.Errorf("end processes marked %s: %w", mark, err)
	}
	return n, nil
}
