package lb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fakeNet stands in for the backends and nft: probes answer from down, applies are recorded.
type fakeNet struct {
	mu      sync.Mutex
	down    map[string]bool
	applied [][]string
	removed []string
}

func (f *fakeNet) probe(_ context.Context, addr string, _ int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down[addr] {
		return errors.New("connection refused")
	}
	return nil
}

func (f *fakeNet) apply(_ context.Context, _ Spec, backends []string) error {
	f.applied = append(f.applied, backends)
	return nil
}

func (f *fakeNet) remove(_ context.Context, name string) error {
	f.removed = append(f.removed, name)
	return nil
}

func TestDaemonStep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lb.json")
	s := validSpec()
	if err := WriteSpec(path, s); err != nil {
		t.Fatal(err)
	}
	f := &fakeNet{down: map[string]bool{}}
	clock := time.Unix(1000, 0)
	d := &daemon{path: path, log: slog.New(slog.NewTextHandler(io.Discard, nil)), spec: s.WithDefaults(),
		health: newHealth(s.WithDefaults()), dirty: true,
		now: func() time.Time { return clock }, probe: f.probe, apply: f.apply, remove: f.remove}
	step := func(what string, want []string, wantFailOpen bool) {
		t.Helper()
		clock = clock.Add(time.Second)
		n := len(f.applied)
		if err := d.step(ctx); err != nil {
			t.Fatalf("%s: step: %v", what, err)
		}
		if want == nil {
			if len(f.applied) != n {
				t.Fatalf("%s: applied %v; want no change", what, f.applied[n:])
			}
			return
		}
		if len(f.applied) != n+1 {
			t.Fatalf("%s: %d applies; want 1", what, len(f.applied)-n)
		}
		if diff := cmp.Diff(want, f.applied[n], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: applied backends (-want +got):\n%s", what, diff)
		}
		st, err := ReadStatus(path)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if st.FailOpen != wantFailOpen || !st.Updated.Equal(clock) {
			t.Errorf("%s: status failOpen %v, updated %v; want %v, %v", what, st.FailOpen, st.Updated, wantFailOpen, clock)
		}
	}
	step("start", []string{"10.36.0.2", "10.36.0.3"}, false)
	step("steady", nil, false)
	f.down["10.36.0.2"] = true
	step("b1 down", []string{"10.36.0.3"}, false)
	st, _ := ReadStatus(path)
	want := BackendStatus{Addr: "10.36.0.2", Healthy: false, Since: clock, LastError: "connection refused"}
	if diff := cmp.Diff(want, st.Backends[0]); diff != "" {
		t.Errorf("status of b1 (-want +got):\n%s", diff)
	}
	f.down["10.36.0.3"] = true
	step("both down: fail open", []string{"10.36.0.2", "10.36.0.3"}, true)
	f.down["10.36.0.2"] = false
	step("b1 back", []string{"10.36.0.2"}, false)

	s.Backends = []string{"10.36.0.2", "10.36.0.4"}
	if err := WriteSpec(path, s); err != nil {
		t.Fatal(err)
	}
	step("spec adds a backend", []string{"10.36.0.2", "10.36.0.4"}, false)
	s.Backends = nil
	if err := WriteSpec(path, s); err != nil {
		t.Fatal(err)
	}
	step("spec removes all backends", []string{}, false)

	if err := os.WriteFile(path, []byte(`{"name": "broken"`), 0o644); err != nil {
		t.Fatal(err)
	}
	step("broken spec keeps the last good one", nil, false)
	renamed := validSpec()
	renamed.Name = "other"
	if err := WriteSpec(path, renamed); err != nil {
		t.Fatal(err)
	}
	step("a renamed spec is refused", nil, false)
	if !strings.Contains(d.reloadErr, "name changed") {
		t.Errorf("reloadErr = %q; want the rename refused", d.reloadErr)
	}

	if err := d.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"default-nginx"}, f.removed); diff != "" {
		t.Errorf("removed tables (-want +got):\n%s", diff)
	}
	if _, err := ReadStatus(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadStatus after stop = %v; want os.ErrNotExist", err)
	}
}
