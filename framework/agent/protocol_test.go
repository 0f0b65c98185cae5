package agent

import (
	"fmt"
	"strings"
	"testing"
)

func TestChunksAssemble(t *testing.T) {
	r := Result{Exit: 2, Stdout: []byte(strings.Repeat("x", 3*ChunkSize)), Stderr: []byte("e\xff")}
	chunks, err := r.Chunks()
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 4 {
		t.Fatalf("%d chunks for %d bytes of output", len(chunks), len(r.Stdout))
	}
	attrs := map[string]string{"ready": "{}"}
	for i, c := range chunks {
		if len(c) > ChunkSize {
			t.Fatalf("chunk %d has %d bytes", i, len(c))
		}
		attrs[fmt.Sprintf("j1-%d", i)] = c
	}
	if _, ok, err := Assemble(attrs, "j1"); ok || err != nil {
		t.Fatalf("without the count: ok %v, err %v", ok, err)
	}
	attrs["j1"] = fmt.Sprint(len(chunks))
	got, ok, err := Assemble(attrs, "j1")
	if !ok || err != nil || got.Exit != 2 || string(got.Stdout) != string(r.Stdout) || string(got.Stderr) != "e\xff" {
		t.Fatalf("assembled: ok %v err %v exit %d", ok, err, got.Exit)
	}
	delete(attrs, "j1-1")
	if _, _, err := Assemble(attrs, "j1"); err == nil {
		t.Fatal("a missing chunk went unnoticed")
	}
}
