package harness

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachgate/framework/checkout"
)

// TestMeasureLock: a quiet (exclusive) holder waits for shared holders in flight, and a
// shared holder arriving while it waits queues behind it.
func TestMeasureLock(t *testing.T) {
	dir := t.TempDir()
	a, b, c := &measureLock{dir: dir}, &measureLock{dir: dir}, &measureLock{dir: dir}
	if err := a.acquire(false); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 3)
	go func() {
		if err := b.acquire(true); err != nil {
			t.Error(err)
		}
		got <- "quiet"
	}()
	time.Sleep(100 * time.Millisecond) // b now waits on a, holding the turnstile
	go func() {
		if err := c.acquire(false); err != nil {
			t.Error(err)
		}
		got <- "shared"
	}()
	select {
	case g := <-got:
		t.Fatalf("%s acquired while a shared holder was in flight", g)
	case <-time.After(200 * time.Millisecond):
	}
	a.release()
	select {
	case g := <-got:
		if g != "quiet" {
			t.Fatalf("%s went first; want the waiting quiet holder", g)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the quiet holder did not get the lock once the shared holder left")
	}
	select {
	case g := <-got:
		t.Fatalf("%s acquired while the quiet holder measures", g)
	case <-time.After(200 * time.Millisecond):
	}
	b.release()
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("the shared holder did not get the lock after the quiet one")
	}
	c.release()
	// Shared holders do not exclude each other.
	if err := a.acquire(false); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.acquire(false); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("two shared holders excluded each other")
	}
	a.release()
	c.release()
}

func TestQuietLabel(t *testing.T) {
	if !quiet([]string{"latency", QuietLabel}) || quiet([]string{"latency"}) {
		t.Error("quiet() does not follow the label")
	}
}

// A spec's deadline must not count the time it queues for the measurement lock: suites bound
// their subject nodes with NodeTimeout. SpecTimeout covers the whole spec, BeforeEach included,
// and a spec queued behind another suite's quiet spec would time out before it starts.
func TestSuitesUseNodeTimeout(t *testing.T) {
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	err = filepath.WalkDir(filepath.Join(root, "suites"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "SpecTimeout"+"(") {
				t.Errorf("%s:%d: SpecTimeout counts the wait for the measurement lock; use NodeTimeout", p, i+1)
			}
			if strings.Contains(line, "NodeTimeout(") {
				found++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 20 {
		t.Fatalf("found %d NodeTimeout uses under suites/; the walk looked in the wrong place", found)
	}
}
