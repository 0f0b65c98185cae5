package netns

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests set REACHGATE_STATE_DIR, so none of them runs in parallel.

func stateRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "labs")
	t.Setenv("REACHGATE_STATE_DIR", root)
	return root
}

func TestStateRoot(t *testing.T) {
	t.Setenv("REACHGATE_STATE_DIR", "")
	if got := StateRoot(); got != DefaultStateRoot {
		t.Errorf("StateRoot() = %v; want %v", got, DefaultStateRoot)
	}
	root := stateRoot(t)
	if got := StateRoot(); got != root {
		t.Errorf("StateRoot() = %v; want %v", got, root)
	}
	if got, want := LabDir("seed"), filepath.Join(root, "seed"); got != want {
		t.Errorf("LabDir() = %v; want %v", got, want)
	}
}

func TestStateSaveLoad(t *testing.T) {
	root := stateRoot(t)
	want := &State{
		Name:       "seed",
		Topology:   "embedded:fixtures/topologies/seed.yaml",
		Phase:      PhaseUp,
		Created:    time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC),
		OwnerPID:   4242,
		Namespaces: []string{"rg-seed-vpc-hub", "rg-seed-h-tp-vm"},
		Processes:  []Process{{Name: "etcd", PID: 99, StartTime: 123456, Namespace: "rg-seed-h-master", Log: "/x/etcd.log"}},
		Hosts: map[string]HostInfo{
			"tp-vm":  {Namespace: "rg-seed-h-tp-vm", IP: "172.31.23.209", VPC: "third-party", Role: "vm"},
			"master": {Namespace: "rg-seed-h-master", IP: "192.168.32.34", VPC: "gke-master", Role: "control-plane", Kubeconfig: "/x/admin.kubeconfig"},
		},
		Dir: LabDir("seed"),
	}
	if err := want.Save(); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := LoadState("seed")
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}

	dir := filepath.Join(root, "seed")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"state.json"}, names); diff != "" {
		t.Errorf("state dir holds (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("got state.json mode %v; want %v", perm, os.FileMode(0o600))
	}
	// Dir is runtime-only: it must not be written to the file.
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for k := range raw {
		if strings.EqualFold(k, "dir") {
			t.Errorf("state.json has key %q; want Dir not persisted", k)
		}
	}

	// A second Save replaces the first.
	got.Phase = PhaseDown
	if err := got.Save(); err != nil {
		t.Fatalf("Save: %v", err)
	}
	again, err := LoadState("seed")
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if again.Phase != PhaseDown {
		t.Errorf("got phase %v; want %v", again.Phase, PhaseDown)
	}
}

func TestLoadStateErrors(t *testing.T) {
	root := stateRoot(t)
	if _, err := LoadState("absent"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadState(absent) error = %v; want os.ErrNotExist", err)
	}
	dir := filepath.Join(root, "broken")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadState("broken")
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("LoadState(broken) error = %v; want one naming %s", err, dir)
	}
}

func TestListStates(t *testing.T) {
	root := stateRoot(t)
	if got, err := ListStates(); err != nil || got != nil {
		t.Errorf("ListStates() with no root = %v, %v; want nil, nil", got, err)
	}
	for _, name := range []string{"charlie", "alpha"} {
		s := &State{Name: name, Phase: PhaseUp, Dir: LabDir(name)}
		if err := s.Save(); err != nil {
			t.Fatal(err)
		}
	}
	// A leftover directory without state.json, and a file that is not a lab.
	if err := os.MkdirAll(filepath.Join(root, "bravo"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "aaa-not-a-lab"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	states, err := ListStates()
	if err != nil {
		t.Fatalf("ListStates: %v", err)
	}
	type row struct{ Name, Phase, Dir string }
	var got []row
	for _, s := range states {
		got = append(got, row{s.Name, s.Phase, s.Dir})
	}
	want := []row{
		{"alpha", PhaseUp, filepath.Join(root, "alpha")},
		{"bravo", PhaseFailed, filepath.Join(root, "bravo")},
		{"charlie", PhaseUp, filepath.Join(root, "charlie")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListStates mismatch (-want +got):\n%s", diff)
	}
}

func TestRecordNamespace(t *testing.T) {
	stateRoot(t)
	s := &State{Name: "rec", Dir: LabDir("rec")}
	for _, ns := range []string{"rg-rec-vpc-a", "rg-rec-h-b", "rg-rec-vpc-a"} {
		if err := s.RecordNamespace(ns); err != nil {
			t.Fatalf("RecordNamespace(%s): %v", ns, err)
		}
	}
	want := []string{"rg-rec-vpc-a", "rg-rec-h-b"}
	if diff := cmp.Diff(want, s.Namespaces); diff != "" {
		t.Errorf("in memory (-want +got):\n%s", diff)
	}
	// Recorded on disk before the namespace would be created.
	loaded, err := LoadState("rec")
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if diff := cmp.Diff(want, loaded.Namespaces); diff != "" {
		t.Errorf("on disk (-want +got):\n%s", diff)
	}
}

func TestStatePath(t *testing.T) {
	t.Parallel()
	s := &State{Dir: "/run/reachgate/labs/seed"}
	if got, want := s.Path("logs", "etcd.log"), "/run/reachgate/labs/seed/logs/etcd.log"; got != want {
		t.Errorf("Path() = %v; want %v", got, want)
	}
}
