package suiterun

import "testing"

// Busy is every state but idle and iowait, in USER_HZ ticks summed over the cores.
func TestCPUSampleSince(t *testing.T) {
	a := parseCPU("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n")
	b := parseCPU("cpu  400 0 150 1000 50 0 0 0 0 0\ncpu0 1 2 3 4\n")
	if got, want := b.Since(a), "machine CPU busy 4 s of 6 s (67 %)"; got != want {
		t.Errorf("Since = %q; want %q", got, want)
	}
	if got := b.Since(CPUSample{}); got != "" {
		t.Errorf("Since a missing sample = %q; want empty", got)
	}
	if s := parseCPU("intr 1 2 3\n"); s.ok {
		t.Error("a /proc/stat without the cpu line parsed")
	}
}
