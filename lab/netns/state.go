// Package netns realizes a topology in Linux network namespaces and owns everything it
// creates: every namespace is recorded in the lab's state directory before it is created,
// and every process before it runs, so Down and GC can remove it after a failure, a crash
// or Ctrl-C; they return once every process they remove has exited.
package netns

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"syscall"
	"time"
)

// Prefix starts the name of every namespace reachgate creates.
const Prefix = "rg-"

// DefaultStateRoot holds one directory per lab; override with REACHGATE_STATE_DIR.
const DefaultStateRoot = "/run/reachgate/labs"

// Phases of a lab's life, as recorded in its state file.
const (
	PhaseProvisioning = "provisioning"
	PhaseUp           = "up"
	PhaseFailed       = "failed"
	PhaseDown         = "tearing-down"
)

// StateRoot returns the directory that holds the labs' state directories.
func StateRoot() string {
	if d := os.Getenv("REACHGATE_STATE_DIR"); d != "" {
		return d
	}
	return DefaultStateRoot
}

var labName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$`)

// ValidName reports whether name can name a lab (it becomes part of namespace names).
func ValidName(name string) error {
	if !labName.MatchString(name) {
		return fmt.Errorf("lab name %q: use 1-20 lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// State is what a lab owns, persisted as state.json in its directory.
type State struct {
	Name     string    `json:"name"`
	Topology string    `json:"topology"`
	Phase    string    `json:"phase"`
	Created  time.Time `json:"created"`
	// Bare marks a lab of the topology's third-party side only: its project starts empty.
	Bare bool `json:"bare,omitempty"`
	// OwnerPID is the process provisioning the lab; while phase is provisioning and it is
	// alive, GC leaves the lab alone.
	OwnerPID       int                 `json:"ownerPID"`
	OwnerStartTime uint64              `json:"ownerStartTime"`
	Namespaces     []string            `json:"namespaces"`
	Processes      []Process           `json:"processes"`
	Hosts          map[string]HostInfo `json:"hosts"`
	// Dir is the state directory (not persisted).
	Dir string `json:"-"`
}

// HostInfo is how to reach a host of the lab.
type HostInfo struct {
	Namespace  string `json:"namespace"`
	IP         string `json:"ip"`
	VPC        string `json:"vpc"`
	Role       string `json:"role"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// API is the URL the lab's GCP API answers on at this host (the operator's only).
	API string `json:"api,omitempty"`
}

// Process is a process the lab started, identified by PID and kernel start time so a
// recycled PID is never signalled.
type Process struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Namespace string `json:"namespace"`
	Log       string `json:"log"`
}

// LabDir returns the state directory of the named lab.
func LabDir(name string) string { return filepath.Join(StateRoot(), name) }

// NamespaceName returns the namespace name for an object of a lab.
func NamespaceName(lab, kind, obj string) string { return Prefix + lab + "-" + kind + "-" + obj }

// LoadState reads the state of the named lab; os.ErrNotExist when there is none.
func LoadState(name string) (*State, error) {
	dir := LabDir(name)
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read lab state %s: %w", dir, err)
	}
	s.Dir = dir
	return &s, nil
}

// ListStates returns the state of every lab under StateRoot, by name.
func ListStates() ([]*State, error) {
	entries, err := os.ReadDir(StateRoot())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := LoadState(e.Name())
		if err != nil {
			// A directory without a readable state is a leftover; GC cleans it by name.
			s = &State{Name: e.Name(), Dir: LabDir(e.Name()), Phase: PhaseFailed}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetOwner records the calling process as the one provisioning the lab.
func (s *State) SetOwner() error {
	st, err := procStartTime(os.Getpid())
	if err != nil {
		return err
	}
	s.OwnerPID, s.OwnerStartTime = os.Getpid(), st
	return nil
}

// Save writes the state atomically.
func (s *State) Save() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, "state.json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(s.Dir, "state.json"))
}

// Update applies fn to the state as it is on disk and saves the result, holding the lab's
// state lock: lab processes (the GKE emulation adds pods) and the CLI write it concurrently.
func (s *State) Update(fn func(*State) error) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, "state.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock lab state: %w", err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	if data, err := os.ReadFile(filepath.Join(s.Dir, "state.json")); err == nil {
		var disk State
		if err := json.Unmarshal(data, &disk); err != nil {
			return fmt.Errorf("read lab state %s: %w", s.Dir, err)
		}
		disk.Dir = s.Dir
		*s = disk
	}
	if s.Hosts == nil {
		s.Hosts = map[string]HostInfo{}
	}
	if err := fn(s); err != nil {
		return err
	}
	return s.Save()
}

// Reload replaces the in-memory state with what is on disk (writes are atomic renames).
func (s *State) Reload() error {
	fresh, err := LoadState(s.Name)
	if err != nil {
		return err
	}
	fresh.Dir = s.Dir
	*s = *fresh
	return nil
}

// Forget drops stopped processes and deleted namespaces from the state, so a lab that
// removed something on purpose still counts as alive.
func (s *State) Forget(processes []Process, namespaces []string) error {
	return s.Update(func(s *State) error {
		s.Processes = slices.DeleteFunc(s.Processes, func(p Process) bool {
			return slices.ContainsFunc(processes, func(q Process) bool { return q.PID == p.PID && q.StartTime == p.StartTime })
		})
		s.Namespaces = slices.DeleteFunc(s.Namespaces, func(n string) bool { return slices.Contains(namespaces, n) })
		return nil
	})
}

// RecordNamespace adds ns to the state and saves it, before the namespace is created.
func (s *State) RecordNamespace(ns string) error {
	return s.Update(func(s *State) error {
		if !slices.Contains(s.Namespaces, ns) {
			s.Namespaces = append(s.Namespaces, ns)
		}
		return nil
	})
}

// Path returns a path inside the state directory.
func (s *State) Path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

// Alive reports whether the lab is fully up: phase up and every recorded process running.
func (s *State) Alive() bool {
	if s.Phase == PhaseProvisioning && (Process{PID: s.OwnerPID, StartTime: s.OwnerStartTime}).Running() {
		return true
	}
	if s.Phase != PhaseUp {
		return false
	}
	for _, p := range s.Processes {
		if !p.Running() {
			return false
		}
	}
	return true
}
