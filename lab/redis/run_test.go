package redis

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"reachgate/lab/netns"
)

func TestServerMissingSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", "")
	saved := debianServer
	debianServer = filepath.Join(t.TempDir(), "redis-server")
	t.Cleanup(func() { debianServer = saved })
	_, err := serverPath()
	if err == nil || !strings.Contains(err.Error(), "install Debian's redis-server") {
		t.Errorf("got %v; want an error saying to install Debian's redis-server", err)
	}
}

// A redis-server that cannot start (its address is on no interface) fails Start at once, with
// its log's last lines and the log's path in the error; the process stays recorded for Down.
func TestStartFailureNamesTheLog(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	st := &netns.State{Name: "unit", Dir: t.TempDir()}
	i := Instance{Host: "redis", IP: netip.MustParseAddr("192.0.2.1"), TLS: true, Auth: true,
		Dir: st.Path("hosts", "redis", "redis"), Log: st.Path("logs", ProcessName("redis")+".log")}
	_, err := Start(context.Background(), st, "", i, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("Start succeeded with an address on no interface")
	}
	for _, want := range []string{"exited at start", i.Log, "192.0.2.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	cred, _ := Read(i)
	if cred.Auth == "" || strings.Contains(err.Error(), cred.Auth) {
		t.Errorf("the error holds the AUTH string (or there is none)")
	}
	if len(st.Processes) != 1 || st.Processes[0].Name != "redis-redis" || st.Processes[0].Running() {
		t.Errorf("recorded processes %+v; want one exited redis-redis", st.Processes)
	}
}
