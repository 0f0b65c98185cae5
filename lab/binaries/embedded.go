package binaries

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/tools/txtar"
)

// kubebinArchive is lab/kubebin (go.mod, go.sum and the mains) as this binary was built: a
// reachgate copied out of its checkout still knows which kube-apiserver and etcd to build,
// and finds the ones built from the checkout (the cache key is the same). The test
// TestEmbeddedKubebinCurrent keeps it equal to lab/kubebin.
//
//go:embed kubebin.txtar
var kubebinArchive []byte

// embeddedSource writes the embedded module under the cache, once per content, and returns
// its directory.
func embeddedSource() (string, error) {
	sum := sha256.Sum256(kubebinArchive)
	dir := filepath.Join(CacheDir(), "kubebin-src", hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, f := range txtar.Parse(kubebinArchive).Files {
		p := filepath.Join(tmp, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process wrote the same content first.
		if _, serr := os.Stat(filepath.Join(dir, ".complete")); serr == nil {
			return dir, nil
		}
		return "", fmt.Errorf("unpack the embedded lab/kubebin into %s: %w", dir, err)
	}
	return dir, nil
}
