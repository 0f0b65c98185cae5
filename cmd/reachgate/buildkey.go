package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// suiteBuildKey hashes everything the suite binaries are built from: the Go toolchain and its
// settings, and every file of the main module (sources, embedded fixtures, go.mod, go.sum),
// leaving out what builds write (bin/, reports/out/), version control, and nested modules
// (lab/kubebin builds kube-apiserver and etcd, not the suites). Equal keys mean the binaries
// of a previous build are the ones go test -c would produce, so a warm `make e2e-local`
// runs no compiler and no linker at all.
func suiteBuildKey(root string) (string, error) {
	h := sha256.New()
	env := exec.Command("go", "env", "GOVERSION", "GOOS", "GOARCH", "GOFLAGS", "CGO_ENABLED", "GOEXPERIMENT", "GOAMD64", "GOARM64")
	env.Dir = root
	out, err := env.Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	h.Write(out)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") || rel == "bin" || rel == "reports/out" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "\x00%s\x00", rel)
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("build key: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// suitesUpToDate reports whether binDir holds a binary for every package, built under key.
func suitesUpToDate(binDir, key string, pkgs []suitePkg) bool {
	b, err := os.ReadFile(filepath.Join(binDir, "build.key"))
	if err != nil || strings.TrimSpace(string(b)) != key {
		return false
	}
	for _, p := range pkgs {
		if fi, err := os.Stat(filepath.Join(binDir, p.ID+".test")); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}
