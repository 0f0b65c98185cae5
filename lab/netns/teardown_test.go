package netns

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestGCLabLeavesOtherLabs(t *testing.T) {
	stateRoot(t)
	for _, name := range []string{"gcone", "gcone-x", "gctwo"} {
		// Failed labs owning nothing: what GC removes when it considers them.
		if err := (&State{Name: name, Phase: PhaseFailed, Dir: LabDir(name)}).Save(); err != nil {
			t.Fatal(err)
		}
	}
	if err := GCLab(context.Background(), "gcone", discardLog()); err != nil {
		t.Fatalf("GCLab: %v", err)
	}
	if _, err := os.Stat(LabDir("gcone")); !os.IsNotExist(err) {
		t.Errorf("lab gcone still has its state after GCLab (%v)", err)
	}
	for _, other := range []string{"gcone-x", "gctwo"} {
		if _, err := os.Stat(LabDir(other)); err != nil {
			t.Errorf("GCLab(gcone) touched lab %s: %v", other, err)
		}
	}
	if err := GCLab(context.Background(), "Not A Name", discardLog()); err == nil {
		t.Error("GCLab with an invalid lab name: got nil error; want one")
	}
}
