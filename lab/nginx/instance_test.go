package nginx

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrepareLayout(t *testing.T) {
	t.Parallel()
	conf := []byte("server { listen 8080; }\n")
	inst, err := Prepare(t.TempDir(), []Mount{
		{Path: "/etc/nginx/conf.d/nginx.conf", Data: conf},
		{Path: "/etc/nginx/cert/tls.key", Data: []byte("key"), Mode: 0o600},
	})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var got []string
	err = filepath.Walk(inst.Dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == inst.Dir {
			return err
		}
		rel, _ := filepath.Rel(inst.Dir, p)
		got = append(got, rel+" "+fi.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"etc drwxr-xr-x",
		"etc/nginx drwxr-xr-x",
		"etc/nginx/cert drwxr-xr-x",
		"etc/nginx/cert/tls.key -rw-------",
		"etc/nginx/conf.d drwxr-xr-x",
		"etc/nginx/conf.d/nginx.conf -rw-r--r--",
		"etc/nginx/mime.types -rw-r--r--",
		"etc/nginx/modules Lrwxrwxrwx",
		"etc/nginx/nginx.conf -rw-r--r--",
		"run drwxr-xr-x",
		"run/lock drwxr-xr-x",
		"var drwxr-xr-x",
		"var/lib drwxr-xr-x",
		"var/lib/nginx drwxr-xr-x",
		"var/lib/nginx/body drwxr-xr-x",
		"var/lib/nginx/fastcgi drwxr-xr-x",
		"var/lib/nginx/proxy drwxr-xr-x",
		"var/lib/nginx/scgi drwxr-xr-x",
		"var/lib/nginx/uwsgi drwxr-xr-x",
		"var/log drwxr-xr-x",
		"var/log/nginx drwxr-xr-x",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("layout (-want +got):\n%s", d)
	}
	if data, _ := os.ReadFile(inst.Path("/etc/nginx/conf.d/nginx.conf")); string(data) != string(conf) {
		t.Errorf("conf.d/nginx.conf = %q; want %q", data, conf)
	}
	if data, _ := os.ReadFile(inst.Path("/etc/nginx/nginx.conf")); string(data) != BaseConfig {
		t.Errorf("nginx.conf is not BaseConfig")
	}
	if l, _ := os.Readlink(inst.Path("/etc/nginx/modules")); l != hostModules {
		t.Errorf("modules link = %q; want %q", l, hostModules)
	}
}

func TestPrepareReplacesBaseConfig(t *testing.T) {
	t.Parallel()
	own := []byte("events {}\n")
	inst, err := Prepare(t.TempDir(), []Mount{{Path: "/etc/nginx/nginx.conf", Data: own}})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if data, _ := os.ReadFile(inst.Path("/etc/nginx/nginx.conf")); string(data) != string(own) {
		t.Errorf("nginx.conf = %q; want %q", data, own)
	}
}

func TestPrepareRejectsMounts(t *testing.T) {
	t.Parallel()
	for _, p := range []string{
		"/var/log/nginx/access.log",
		"/etc/nginx",
		"/etc/nginx/",
		"/etc/nginxx/a.conf",
		"/etc/nginx/../passwd",
		"/etc/nginx/./a.conf",
		"etc/nginx/a.conf",
		"/etc/nginx/modules/evil.so", // through the link into the host's modules dir
	} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if _, err := Prepare(dir, []Mount{{Path: p, Data: []byte("x")}}); err == nil {
				t.Errorf("Prepare(mount %q) succeeded; want an error", p)
			}
		})
	}
	dup := []Mount{{Path: "/etc/nginx/a.conf"}, {Path: "/etc/nginx/a.conf"}}
	if _, err := Prepare(t.TempDir(), dup); err == nil {
		t.Errorf("Prepare(duplicate mounts) succeeded; want an error")
	}
}

func TestCommandShape(t *testing.T) {
	t.Parallel()
	inst := &Instance{Dir: "/srv/pod a"}
	argv := inst.Command()
	if !strings.HasSuffix(argv[0], "/unshare") {
		t.Errorf("argv[0] = %q; want unshare", argv[0])
	}
	if d := cmp.Diff([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c"}, argv[1:7]); d != "" {
		t.Errorf("unshare args (-want +got):\n%s", d)
	}
	if len(argv) != 8 {
		t.Fatalf("len(argv) = %d; want 8: %q", len(argv), argv)
	}
	want := "mount --bind '/srv/pod a/etc/nginx' '/etc/nginx' && " +
		"mount --bind '/srv/pod a/var/log/nginx' '/var/log/nginx' && " +
		"mount --bind '/srv/pod a/var/lib/nginx' '/var/lib/nginx' && " +
		"mount --bind '/srv/pod a/run' '/run' && " +
		"exec '" + lookPath("nginx", "/usr/sbin/nginx") + "' '-g' 'daemon off;'"
	if argv[7] != want {
		t.Errorf("script:\n got %s\nwant %s", argv[7], want)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"plain", "with space", "it's", `"$HOME" \n; rm -rf x`, "''", ""} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+quote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != s {
			t.Errorf("sh printed %q; want %q", out, s)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	v, err := Version(context.Background())
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(v) {
		t.Errorf("Version() = %q; want a version like 1.22.1", v)
	}
	t.Logf("nginx %s", v)
}
