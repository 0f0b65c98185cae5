package binaries

import (
	"bytes"
	"context"
	"flag"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// kubebin is the real nested module, relative to this package.
const kubebin = "../kubebin"

const goodGoMod = `module reachgate/lab/kubebin

go 1.26.0

require (
	go.etcd.io/etcd/server/v3 v3.6.1
	k8s.io/component-base v0.35.0
	k8s.io/kubernetes v1.35.0
)

require (
	go.etcd.io/etcd/api/v3 v3.6.1 // indirect
)
`

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		gomod     string // "" = no go.mod at all
		wantK8s   string
		wantEtcd  string
		wantErrIn []string // substrings of the error; nil = success
	}{
		{name: "good", gomod: goodGoMod, wantK8s: "v1.35.0", wantEtcd: "v3.6.1"},
		{
			name:      "missing etcd",
			gomod:     "module m\n\nrequire (\n\tk8s.io/kubernetes v1.35.0\n\tgo.etcd.io/etcd/api/v3 v3.6.1\n)\n",
			wantErrIn: []string{"go.mod", "go.etcd.io/etcd/server/v3"},
		},
		{
			name:      "missing kubernetes",
			gomod:     "module m\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.6.1\n\tk8s.io/kubernetes-tools v1.0.0\n)\n",
			wantErrIn: []string{"go.mod", "k8s.io/kubernetes"},
		},
		{name: "no go.mod", wantErrIn: []string{"go.mod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.gomod != "" {
				writeFile(t, filepath.Join(dir, "go.mod"), tt.gomod)
			}
			k8s, etcd, err := Versions(dir)
			if tt.wantErrIn != nil {
				if err == nil {
					t.Fatalf("got versions %q, %q and no error; want an error", k8s, etcd)
				}
				for _, s := range tt.wantErrIn {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("got error %q; want it to mention %q", err, s)
					}
				}
				if k8s != "" || etcd != "" {
					t.Errorf("got versions %q, %q with an error; want empty", k8s, etcd)
				}
				return
			}
			if err != nil {
				t.Fatalf("Versions: %v", err)
			}
			if k8s != tt.wantK8s || etcd != tt.wantEtcd {
				t.Errorf("got %v, %v; want %v, %v", k8s, etcd, tt.wantK8s, tt.wantEtcd)
			}
		})
	}
}

func TestVersionsKubebin(t *testing.T) {
	t.Parallel()
	k8s, etcd, err := Versions(kubebin)
	if err != nil {
		t.Fatalf("Versions(%s): %v", kubebin, err)
	}
	if k8s != "v1.37.2" || etcd != "v3.7.0" {
		t.Errorf("got %v, %v; want v1.37.2, v3.7.0", k8s, etcd)
	}
}

func TestLDFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		want    []string
	}{
		{"v1.37.2", []string{"gitVersion=v1.37.2", "gitMajor=1", "gitMinor=37", "gitTreeState=clean"}},
		{"v2.0.1-rc.1", []string{"gitVersion=v2.0.1-rc.1", "gitMajor=2", "gitMinor=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			got := strings.Fields(LDFlags(tt.version))
			// Every assignment is its own -X flag on k8s.io/component-base/version.
			var sets []string
			for i := 0; i < len(got); i += 2 {
				if got[i] != "-X" || i+1 >= len(got) {
					t.Fatalf("got ldflags %q; want pairs of -X pkg.var=value", got)
				}
				sets = append(sets, got[i+1])
			}
			for _, w := range tt.want {
				found := false
				for _, s := range sets {
					if s == "k8s.io/component-base/version."+w {
						found = true
					}
				}
				if !found {
					t.Errorf("got ldflags %q; want -X k8s.io/component-base/version.%s", got, w)
				}
			}
		})
	}
}

// copyTree copies a directory tree (regular files only) into a new temp dir.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func TestInputKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := copyTree(t, kubebin)
	baseKey, err := inputKey(ctx, base)
	if err != nil {
		t.Fatalf("inputKey: %v", err)
	}
	if len(baseKey) != 64 {
		t.Fatalf("got key %q; want 64 hex digits", baseKey)
	}
	tests := []struct {
		name    string
		edit    func(t *testing.T, dir string)
		changed bool
	}{
		{"untouched copy", func(*testing.T, string) {}, false},
		{"README added", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "README.md"), "notes\n") }, false},
		{"non-go file in cmd edited", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "cmd", "etcd", "notes.txt"), "x\n")
		}, false},
		{"main.go edited", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "cmd", "etcd", "main.go"), "\n// edited\n")
		}, true},
		{"new .go file", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "cmd", "etcd", "extra.go"), "package main\n")
		}, true},
		{"go.mod edited", func(t *testing.T, dir string) { appendFile(t, filepath.Join(dir, "go.mod"), "\n// edited\n") }, true},
		{"go.sum edited", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "go.sum"), "example.com/x v1.0.0 h1:x=\n")
		}, true},
		{"file renamed", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "cmd", "etcd", "main.go"), filepath.Join(dir, "cmd", "etcd", "etcd.go")); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyTree(t, base)
			tt.edit(t, dir)
			key, err := inputKey(ctx, dir)
			if err != nil {
				t.Fatalf("inputKey: %v", err)
			}
			if got := key != baseKey; got != tt.changed {
				t.Errorf("got key changed=%v (%s vs %s); want %v", got, key, baseKey, tt.changed)
			}
			again, err := inputKey(ctx, dir)
			if err != nil {
				t.Fatalf("inputKey: %v", err)
			}
			if again != key {
				t.Errorf("got %s on a second call; want the stable %s", again, key)
			}
		})
	}
}

func TestInputKeyMissingDir(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "absent")
	if _, err := inputKey(context.Background(), missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("got error %v; want one naming %s", err, missing)
	}
}

// The tests below change the environment, so they cannot run in parallel.

func TestCacheDir(t *testing.T) {
	xdg := t.TempDir()
	tests := []struct {
		name        string
		cache, xdgv string
		want        string
	}{
		{"REACHGATE_CACHE wins", "/tmp/rg-cache", xdg, "/tmp/rg-cache"},
		{"XDG_CACHE_HOME", "", xdg, filepath.Join(xdg, "reachgate")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("REACHGATE_CACHE", tt.cache)
			t.Setenv("XDG_CACHE_HOME", tt.xdgv)
			if got := CacheDir(); got != tt.want {
				t.Errorf("CacheDir() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestSourceDir(t *testing.T) {
	abs, err := filepath.Abs(kubebin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, want string
	}{
		{"REACHGATE_KUBEBIN_SRC", "/somewhere/kubebin", "/somewhere/kubebin"},
		{"found above the working directory", "", abs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("REACHGATE_KUBEBIN_SRC", tt.env)
			got, err := SourceDir()
			if err != nil {
				t.Fatalf("SourceDir: %v", err)
			}
			if got != tt.want {
				t.Errorf("SourceDir() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestEnsurePrebuilt(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("REACHGATE_CACHE", cache)
	// A source dir that cannot build: Ensure must not get that far.
	t.Setenv("REACHGATE_KUBEBIN_SRC", filepath.Join(t.TempDir(), "no-kubebin"))
	t.Setenv("REACHGATE_KUBE_APISERVER", "/opt/bin/kube-apiserver")
	t.Setenv("REACHGATE_ETCD", "/opt/bin/etcd")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	got, err := Ensure(context.Background(), log)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	want := Set{APIServer: "/opt/bin/kube-apiserver", Etcd: "/opt/bin/etcd", KubernetesVersion: "(prebuilt)", EtcdVersion: "(prebuilt)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Ensure mismatch (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("got %d entries in the cache; want none (nothing built)", len(entries))
	}

	// Only one of the pair set: the prebuilt path is not taken, and with no source Ensure
	// fails before building anything.
	t.Setenv("REACHGATE_ETCD", "")
	if got, err := Ensure(context.Background(), log); err == nil {
		t.Errorf("got %+v and no error with only REACHGATE_KUBE_APISERVER set; want the build path's error", got)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("got %d entries in the cache; want none", len(entries))
	}
}

var updateEmbedded = flag.Bool("update-kubebin", false, "rewrite kubebin.txtar from lab/kubebin")

// The archive a binary carries is lab/kubebin as it is: same files, same bytes, so a binary
// outside the checkout builds (and finds in the cache) the same kube-apiserver and etcd.
func TestEmbeddedKubebinCurrent(t *testing.T) {
	var want txtar.Archive
	err := filepath.WalkDir(kubebin, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(p, ".go") && d.Name() != "go.mod" && d.Name() != "go.sum" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(kubebin, p)
		want.Files = append(want.Files, txtar.File{Name: filepath.ToSlash(rel), Data: data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	data := txtar.Format(&want)
	if *updateEmbedded {
		if err := os.WriteFile("kubebin.txtar", data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(data, kubebinArchive) {
		t.Fatal("kubebin.txtar differs from lab/kubebin: run go test ./lab/binaries -run TestEmbeddedKubebinCurrent -update-kubebin")
	}
	// Unpacked, it hashes as the checkout does: the same cache entry.
	t.Setenv("REACHGATE_CACHE", t.TempDir())
	dir, err := embeddedSource()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := inputKey(ctx, kubebin)
	if err != nil {
		t.Fatal(err)
	}
	b, err := inputKey(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("input key of the unpacked copy %s differs from the checkout's %s", b[:12], a[:12])
	}
	if again, err := embeddedSource(); err != nil || again != dir {
		t.Errorf("second unpack: %s, %v; want %s", again, err, dir)
	}
}
