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

// eachSuiteLine calls fn with every line of the Go files under suites/ (path, 1-based line).
func eachSuiteLine(t *testing.T, fn func(path string, n int, line string)) {
	t.Helper()
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(filepath.Join(root, "suites"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			fn(p, i+1, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A spec's deadline must not count the time it queues for the measurement lock: suites bound
// their subject nodes with NodeTimeout. SpecTimeout covers the whole spec, BeforeEach included,
// and a spec queued behind another suite's quiet spec would time out before it starts.
func TestSuitesUseNodeTimeout(t *testing.T) {
	found := 0
	eachSuiteLine(t, func(p string, n int, line string) {
		if strings.Contains(line, "SpecTimeout"+"(") {
			t.Errorf("%s:%d: SpecTimeout counts the wait for the measurement lock; use NodeTimeout", p, n)
		}
		if strings.Contains(line, "NodeTimeout(") {
			found++
		}
	})
	if found < 20 {
		t.Fatalf("found %d NodeTimeout uses under suites/; the walk looked in the wrong place", found)
	}
}

// A quiet spec measures alone; one labelled BesideLabel measures beside the others first and
// alone on its second attempt; other specs share the machine unraised.
func TestMeasureMode(t *testing.T) {
	for _, c := range []struct {
		labels        []string
		attempt       int
		alone, raised bool
	}{
		{[]string{"latency"}, 1, false, false},
		{[]string{"latency"}, 2, false, false},
		{[]string{QuietLabel}, 1, true, true},
		{[]string{QuietLabel}, 2, true, true},
		{[]string{QuietLabel, BesideLabel}, 0, false, true},
		{[]string{QuietLabel, BesideLabel}, 1, false, true},
		{[]string{QuietLabel, BesideLabel}, 2, true, true},
		{[]string{BesideLabel}, 1, false, false}, // beside means nothing without quiet
	} {
		if alone, raised := measureMode(c.labels, c.attempt); alone != c.alone || raised != c.raised {
			t.Errorf("measureMode(%v, attempt %d) = alone %v, raised %v; want %v, %v", c.labels, c.attempt, alone, raised, c.alone, c.raised)
		}
	}
}

// A spec labelled BesideLabel measures alone only on a second attempt: it must have one.
func TestBesideSpecsHaveASecondAttempt(t *testing.T) {
	found := 0
	eachSuiteLine(t, func(p string, n int, line string) {
		if strings.Contains(p, "/harness/") || !strings.Contains(line, "harness.BesideLabel") {
			return
		}
		found++
		if !strings.Contains(line, "FlakeAttempts(2)") {
			t.Errorf("%s:%d: a spec labelled harness.BesideLabel needs FlakeAttempts(2) (its second attempt measures alone)", p, n)
		}
	})
	if found < 10 {
		t.Fatalf("found %d specs labelled harness.BesideLabel under suites/; the walk looked in the wrong place", found)
	}
}
