package selfbin

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
)

func TestUse(t *testing.T) {
	t.Setenv("REACHGATE_BIN", "")
	Use("bin/reachgate")
	Use("other/reachgate") // the first answer stands
	got, err := Path(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs("bin/reachgate")
	if got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}
