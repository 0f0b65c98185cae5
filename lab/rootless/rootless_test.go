package rootless

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestRefusal(t *testing.T) {
	cases := []struct {
		name    string
		sysctls map[string]string
		want    string // a part of why; "" for none
		fix     string
	}{
		{"allowed", map[string]string{"/proc/sys/user/max_user_namespaces": "96367"}, "", ""},
		{"no sysctls at all", nil, "", ""},
		{"ubuntu 24.04 apparmor", map[string]string{
			"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
			"/proc/sys/user/max_user_namespaces":                     "96367",
		}, "AppArmor", "kernel.apparmor_restrict_unprivileged_userns=0"},
		{"apparmor allows", map[string]string{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "0"}, "", ""},
		{"debian clone switch", map[string]string{"/proc/sys/kernel/unprivileged_userns_clone": "0\n"}, "unprivileged_userns_clone=0", "kernel.unprivileged_userns_clone=1"},
		{"no user namespaces", map[string]string{"/proc/sys/user/max_user_namespaces": "0"}, "max_user_namespaces=0", "user.max_user_namespaces=15000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			read := func(p string) ([]byte, error) {
				if v, ok := c.sysctls[p]; ok {
					return []byte(v), nil
				}
				return nil, os.ErrNotExist
			}
			why, fix := Refusal(read)
			if c.want == "" {
				if why != "" || fix != "" {
					t.Fatalf("got refusal %q (fix %q), want none", why, fix)
				}
				return
			}
			if !strings.Contains(why, c.want) {
				t.Errorf("why = %q, want it to name %q", why, c.want)
			}
			if !strings.HasPrefix(fix, "sudo sysctl -w ") || !strings.Contains(fix, c.fix) {
				t.Errorf("fix = %q, want the one-line sysctl setting %q", fix, c.fix)
			}
		})
	}
}

func TestLoadRefusesAnotherUsersRecord(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("REACHGATE_ROOTLESS_DIR", dir)
	if h, err := Load(); h != nil || err != nil {
		t.Fatalf("no record: got %v, %v", h, err)
	}
	h := &Holder{PID: 1, UID: os.Getuid() + 1}
	if err := h.save(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "REACHGATE_ROOTLESS_DIR") {
		t.Fatalf("another user's record: err = %v, want one naming REACHGATE_ROOTLESS_DIR", err)
	}
	if err := os.WriteFile(recordPath(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(); err == nil {
		t.Fatal("a broken record loaded without error")
	}
}

func TestStaleRecord(t *testing.T) {
	t.Setenv("REACHGATE_ROOTLESS_DIR", t.TempDir())
	// A record of a process that is gone (PID 1 with a start time it never had).
	h := &Holder{PID: 1, Start: 1, UserNS: 1, UID: os.Getuid()}
	if h.Alive() {
		t.Fatal("a record whose start time does not match counts as alive")
	}
	if err := h.save(); err != nil {
		t.Fatal(err)
	}
	_, running, labs, err := Labs()
	if err != nil || running || labs != nil {
		t.Fatalf("Labs of a stale record = running %v, labs %v, err %v", running, labs, err)
	}
	code, err := Run(t.Context(), []string{"lab", "status"}, false, os.Stderr)
	if !errors.Is(err, ErrNoHolder) || code != 0 {
		t.Fatalf("Run without a living holder and create=false: code %d, err %v; want ErrNoHolder", code, err)
	}
	if _, err := os.Stat(recordPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stale record was not removed: %v", err)
	}
}
