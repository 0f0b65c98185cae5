package redis

import (
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reachgate/framework/topology"
)

func testInstance(t *testing.T, tls, auth bool) Instance {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hosts", "redis", "redis")
	return Instance{Host: "redis", IP: netip.MustParseAddr("10.60.0.3"), TLS: tls, Auth: auth,
		Dir: dir, Log: filepath.Join(t.TempDir(), "logs", "redis-redis.log")}
}

// directives returns redis.conf's lines as directive -> argument text, failing on a repeat.
func directives(t *testing.T, conf string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(conf, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, _ := strings.Cut(l, " ")
		if _, dup := out[k]; dup {
			t.Errorf("directive %s appears twice", k)
		}
		out[k] = v
	}
	return out
}

func TestRenderTLSAndAuth(t *testing.T) {
	t.Parallel()
	i := testInstance(t, true, true)
	d := directives(t, i.Config("s3cret-Auth_String").Render())
	want := map[string]string{
		"bind":             "10.60.0.3",
		"protected-mode":   "no",
		"port":             "0",
		"tls-port":         "6378",
		"tls-cert-file":    `"` + i.Path("server.crt") + `"`,
		"tls-key-file":     `"` + i.Path("server.key") + `"`,
		"tls-ca-cert-file": `"` + i.Path("ca.crt") + `"`,
		"tls-auth-clients": "no",
		"requirepass":      `"s3cret-Auth_String"`,
		"save":             `""`,
		"appendonly":       "no",
		"dir":              `"` + i.Dir + `"`,
		"daemonize":        "no",
		"logfile":          `"` + i.Log + `"`,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s: got %q; want %q", k, d[k], v)
		}
	}
	if _, ok := d["pidfile"]; ok {
		t.Error("redis.conf sets a pidfile; the lab records the process itself")
	}
}

func TestRenderPlainWithoutAuth(t *testing.T) {
	t.Parallel()
	i := testInstance(t, false, false)
	i.IP = netip.MustParseAddr("10.60.0.4")
	d := directives(t, i.Config("").Render())
	if d["port"] != "6379" || d["bind"] != "10.60.0.4" || d["protected-mode"] != "no" {
		t.Errorf("got port %q bind %q protected-mode %q; want 6379, 10.60.0.4, no", d["port"], d["bind"], d["protected-mode"])
	}
	for k := range d {
		if strings.HasPrefix(k, "tls-") || k == "requirepass" {
			t.Errorf("plain instance without AUTH has %s", k)
		}
	}
	if i.Port() != 6379 || i.Addr().String() != "10.60.0.4:6379" {
		t.Errorf("got port %d addr %s; want 6379", i.Port(), i.Addr())
	}
}

func TestRenderQuotesPaths(t *testing.T) {
	t.Parallel()
	c := Config{Bind: netip.MustParseAddr("10.0.0.2"), Dir: `/state dir/a"b\c`, LogFile: "/l.log"}
	if got, want := directives(t, c.Render())["dir"], `"/state dir/a\"b\\c"`; got != want {
		t.Errorf("dir: got %s; want %s", got, want)
	}
}

// mode returns a file's permission bits.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestPrepareFilesModesAndSecrecy(t *testing.T) {
	t.Parallel()
	i := testInstance(t, true, true)
	if err := Prepare(i); err != nil {
		t.Fatal(err)
	}
	cred, err := Read(i)
	if err != nil {
		t.Fatal(err)
	}
	if len(cred.Auth) != 43 { // 32 bytes, base64url without padding
		t.Errorf("AUTH string has %d characters; want 43", len(cred.Auth))
	}
	wantModes := map[string]fs.FileMode{
		"redis.conf": 0o600, "auth": 0o600, "ca.key": 0o600, "server.key": 0o600,
		"ca.crt": 0o644, "server.crt": 0o644,
	}
	entries, err := os.ReadDir(i.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(wantModes) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("instance directory holds %v; want exactly %d files", names, len(wantModes))
	}
	for name, want := range wantModes {
		if got := mode(t, i.Path(name)); got != want {
			t.Errorf("%s: mode %o; want %o", name, got, want)
		}
		data, err := os.ReadFile(i.Path(name))
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(string(data), cred.Auth)
		if secret := name == "redis.conf" || name == "auth"; has != secret {
			t.Errorf("%s: holds the AUTH string = %v; want %v (only redis.conf and auth hold it)", name, has, secret)
		}
	}
	if got := mode(t, i.Dir); got != 0o700 {
		t.Errorf("instance directory: mode %o; want 700", got)
	}
	// The process's arguments and its log name never carry the secret.
	for _, a := range append(i.Args(), i.Log, ProcessName(i.Host)) {
		if strings.Contains(a, cred.Auth) {
			t.Errorf("%q holds the AUTH string", a)
		}
	}
	if d := directives(t, readFile(t, i.Path("redis.conf"))); d["requirepass"] != `"`+cred.Auth+`"` {
		t.Errorf("redis.conf requirepass does not hold the auth file's string")
	}

	// The server certificate is for the instance's address, issued by the instance's CA.
	block, _ := pem.Decode(cred.CAPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("ca.crt is not a CA certificate: %v", err)
	}
	block, _ = pem.Decode([]byte(readFile(t, i.Path("server.crt"))))
	server, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !coversIP(server, ca, i.IP) {
		t.Errorf("server.crt does not verify for %s against ca.crt", i.IP)
	}
	if coversIP(server, ca, netip.MustParseAddr("10.60.0.4")) {
		t.Errorf("server.crt verifies for another address")
	}

	// Prepared again (a restart): the same CA, certificate and AUTH string.
	before := map[string]string{}
	for _, n := range []string{"ca.crt", "server.crt", "auth"} {
		before[n] = readFile(t, i.Path(n))
	}
	if err := Prepare(i); err != nil {
		t.Fatal(err)
	}
	for n, data := range before {
		if readFile(t, i.Path(n)) != data {
			t.Errorf("%s changed when the instance was prepared again", n)
		}
	}
}

func TestPreparePlainWithoutAuthWritesNoSecrets(t *testing.T) {
	t.Parallel()
	i := testInstance(t, false, false)
	if err := Prepare(i); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(i.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "redis.conf" {
		t.Errorf("instance directory holds %d files; want only redis.conf", len(entries))
	}
	if got := mode(t, i.Path("redis.conf")); got != 0o600 {
		t.Errorf("redis.conf: mode %o; want 600", got)
	}
	cred, err := Read(i)
	if err != nil || cred.Auth != "" || cred.CAPEM != nil {
		t.Errorf("Read: %+v, %v; want no CA and no AUTH string", cred, err)
	}
}

func TestFromMachine(t *testing.T) {
	t.Parallel()
	m := &topology.Machine{Name: "redis", IP: netip.MustParseAddr("10.60.0.3"), Role: topology.RoleManagedService,
		Service: &topology.ManagedService{Kind: "redis", TLS: true, Auth: true}}
	i, err := FromMachine(m, "/d", "/l")
	if err != nil || i.Port() != 6378 || !i.TLS || !i.Auth || i.Host != "redis" {
		t.Errorf("got %+v, %v; want a TLS instance with AUTH on 6378", i, err)
	}
	m.Service.Kind = "memcached"
	if _, err := FromMachine(m, "/d", "/l"); err == nil || !strings.Contains(err.Error(), "kind: redis") {
		t.Errorf("kind memcached: got %v; want an error saying to use kind: redis", err)
	}
	m.Service = nil
	if _, err := FromMachine(m, "/d", "/l"); err == nil || !strings.Contains(err.Error(), "service: {kind: redis}") {
		t.Errorf("no service: got %v; want an error saying to add service: {kind: redis}", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
