package netns

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
)

// Boost raises a lab's daemons (found by the environment mark every lab process carries)
// and the extra processes, nothing else, and restore puts them back.
func TestBoost(t *testing.T) {
	roottest.Require(t)
	const quietNice = -10
	start := func(lab string) int {
		t.Helper()
		c := exec.Command("sleep", "60")
		c.Env = append(os.Environ(), LabEnv+"=/run/reachgate/labs/"+lab)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c.Process.Pid
	}
	niceOf := func(pid int) int {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		n, err := strconv.Atoi(f[16]) // field 19 of stat: nice
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	mine, other, longer := start("boosttest"), start("otherlab"), start("xboosttest")
	restore, n := (&State{Dir: "/run/reachgate/labs/boosttest"}).Boost(quietNice, os.Getpid())
	if n < 2 {
		t.Fatalf("boost changed %d threads; want this process's and the daemon's", n)
	}
	if got := niceOf(mine); got != quietNice {
		t.Errorf("the lab's daemon runs at nice %d; want %d", got, quietNice)
	}
	if got, got2 := niceOf(other), niceOf(longer); got != 0 || got2 != 0 {
		t.Errorf("other labs' daemons run at nice %d and %d; want 0", got, got2)
	}
	// A daemon the spec starts while it measures is raised too.
	late := start("boosttest")
	deadline := time.Now().Add(2 * time.Second)
	for niceOf(late) != quietNice && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := niceOf(late); got != quietNice {
		t.Errorf("a daemon started during the boost runs at nice %d; want %d", got, quietNice)
	}
	restore()
	if got, got2 := niceOf(mine), niceOf(late); got != 0 || got2 != 0 {
		t.Errorf("after restore the daemons run at nice %d and %d; want 0", got, got2)
	}
	if got := niceOf(mine); got != 0 {
		t.Errorf("after restore the daemon runs at nice %d; want 0", got)
	}
}
