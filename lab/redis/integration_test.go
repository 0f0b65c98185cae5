package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/framework/pki"
	"reachgate/lab"
	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
	"reachgate/lab/redis"
)

// topologyPath holds a customer VPC peered over servicenetworking-googleapis-com with a
// producer VPC of two instances: redis (TLS and AUTH) and redis-plain (neither).
const topologyPath = "testdata/psa-redis.yaml"

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// requireProgram fails (under REACHGATE_REQUIRE_ROOT_TESTS=1) or skips when a program is missing.
func requireProgram(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	msg := fmt.Sprintf("%s not found: apt-get install %s", name, pkg)
	if os.Getenv("REACHGATE_REQUIRE_ROOT_TESTS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func up(t *testing.T, name, self string) *lab.Lab {
	t.Helper()
	data, err := os.ReadFile(topologyPath)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Up(context.Background(), lab.Options{Name: name, Source: topologyPath, Data: data, Self: self,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	return l
}

// process returns the recorded redis-server process of a host.
func process(t *testing.T, name, host string) netns.Process {
	t.Helper()
	st, err := netns.LoadState(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Processes {
		if p.Name == redis.ProcessName(host) {
			return p
		}
	}
	t.Fatalf("lab %s records no process %s", name, redis.ProcessName(host))
	return netns.Process{}
}

// redisServers lists the PIDs of running redis-server processes whose configuration file is in
// dir.
func redisServers(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(exe, "redis") && bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestLabRunsMemorystoreInstances(t *testing.T) {
	roottest.Require(t)
	self := roottest.Self(t)
	requireProgram(t, "redis-server", "redis-server")
	requireProgram(t, "redis-cli", "redis-tools")
	const name = "it-redis"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := up(t, name, self)
	t.Cleanup(func() {
		if st, err := netns.LoadState(name); err == nil {
			_ = netns.Down(context.Background(), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}
	})
	dir := l.State.Dir

	// The ability's view, as Memorystore's API: host, port, serverCaCerts, AUTH string.
	ms, err := l.ManagedService("redis")
	if err != nil {
		t.Fatal(err)
	}
	if ms.Host != netip.MustParseAddr("10.60.0.3") || ms.Port != 6378 || !ms.TLS || len(ms.CAPEM) == 0 || ms.Auth == "" || ms.Kind != "redis" {
		t.Fatalf("ManagedService(redis) = %+v; want 10.60.0.3:6378 with TLS, a CA and an AUTH string", ms)
	}
	if js, _ := json.Marshal(ms); bytes.Contains(js, []byte(ms.Auth)) {
		t.Errorf("cloud.ManagedService marshals its AUTH string: %s", js)
	}
	if _, err := l.ManagedService("client"); err == nil || !strings.Contains(err.Error(), "managed-service hosts: redis, redis-plain") {
		t.Errorf("ManagedService(client): got %v; want an error naming the managed-service hosts", err)
	}

	// From the client VM in the consumer VPC, over the servicenetworking peering: TLS verified
	// against the instance's CA, AUTH, PING, SET/GET.
	clientNS, err := l.Namespace("client")
	if err != nil {
		t.Fatal(err)
	}
	dial := netns.Dialer(clientNS)
	addr := netip.AddrPortFrom(ms.Host, uint16(ms.Port))
	tlsCfg, err := redis.ClientTLS(ms.CAPEM, ms.Host)
	if err != nil {
		t.Fatal(err)
	}
	c, err := redis.Dial(ctx, dial, addr, tlsCfg, ms.Auth)
	if err != nil {
		t.Fatalf("TLS + AUTH to %s from the client VM: %v", addr, err)
	}
	defer c.Close()
	if v, err := c.Do(ctx, "PING"); v != "PONG" || err != nil {
		t.Fatalf("PING: got %v, %v; want PONG", v, err)
	}
	if v, err := c.Do(ctx, "SET", "reachgate:psa", "over the peering"); v != "OK" || err != nil {
		t.Fatalf("SET: got %v, %v", v, err)
	}
	if v, err := c.Do(ctx, "GET", "reachgate:psa"); v != "over the peering" || err != nil {
		t.Fatalf("GET: got %v, %v", v, err)
	}

	// 200 sequential PINGs over the one connection: in-VPC round trips, no WAN.
	const n = 200
	rtts := make([]time.Duration, 0, n)
	for range n {
		s := time.Now()
		if v, err := c.Do(ctx, "PING"); v != "PONG" || err != nil {
			t.Fatalf("PING: got %v, %v", v, err)
		}
		rtts = append(rtts, time.Since(s))
	}
	slices.Sort(rtts)
	t.Logf("%d sequential TLS PINGs over one connection from the client VM to %s: p50 %v, p95 %v, max %v",
		n, addr, rtts[n/2-1], rtts[n*95/100-1], rtts[n-1])

	// A wrong AUTH string is refused by Redis itself (WRONGPASS), not by the network.
	_, err = redis.Dial(ctx, dial, addr, tlsCfg, "not-the-auth-string")
	var se redis.ServerError
	if !errors.As(err, &se) || se.Code() != "WRONGPASS" {
		t.Errorf("wrong AUTH: got %v; want Redis's WRONGPASS error", err)
	}
	// Without AUTH, commands are refused (NOAUTH).
	if nc, err := redis.Dial(ctx, dial, addr, tlsCfg, ""); err != nil {
		t.Errorf("TLS without AUTH: %v", err)
	} else {
		if _, err := nc.Do(ctx, "PING"); !errors.As(err, &se) || se.Code() != "NOAUTH" {
			t.Errorf("PING without AUTH: got %v; want NOAUTH", err)
		}
		nc.Close()
	}
	// A client trusting another CA fails the handshake.
	other, err := pki.NewCA("not the instance's CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherCfg, _ := redis.ClientTLS(other.CertPEM, ms.Host)
	if _, err := redis.Dial(ctx, dial, addr, otherCfg, ms.Auth); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("TLS trusting another CA: got %v; want a failed handshake", err)
	}

	// A stock client: redis-cli at the client VM with the CA as a client saves serverCaCerts.
	// The AUTH string goes in redis-cli's environment (REDISCLI_AUTH), not its arguments.
	caFile := filepath.Join(t.TempDir(), "server-ca.pem")
	if err := os.WriteFile(caFile, ms.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cli, err := l.Command(ctx, "client", "redis-cli", "-h", ms.Host.String(), "-p", fmt.Sprint(ms.Port), "--tls", "--cacert", caFile, "--no-auth-warning", "PING")
	if err != nil {
		t.Fatal(err)
	}
	cli.Env = append(cli.Env, "REDISCLI_AUTH="+ms.Auth)
	if out, err := cli.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "PONG" {
		t.Errorf("redis-cli --tls PING from the client VM: %v: %q; want PONG", err, out)
	}

	// The second instance: no TLS, no AUTH, plain text on 6379.
	plain, err := l.ManagedService("redis-plain")
	if err != nil {
		t.Fatal(err)
	}
	if plain.Port != 6379 || plain.TLS || plain.CAPEM != nil || plain.Auth != "" {
		t.Fatalf("ManagedService(redis-plain) = %+v; want 6379 without TLS, CA or AUTH string", plain)
	}
	pc, err := redis.Dial(ctx, dial, netip.AddrPortFrom(plain.Host, uint16(plain.Port)), nil, "")
	if err != nil {
		t.Fatalf("plain text to %s:%d: %v", plain.Host, plain.Port, err)
	}
	if v, err := pc.Do(ctx, "PING"); v != "PONG" || err != nil {
		t.Errorf("plain PING: got %v, %v; want PONG", v, err)
	}
	pc.Close()

	// The AUTH string is in redis.conf and auth only: not in the logs, the arguments of the
	// process, or lab status (text and JSON).
	proc := process(t, name, "redis")
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", proc.PID))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cmdline, []byte(ms.Auth)) {
		t.Errorf("redis-server's arguments hold the AUTH string")
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	for _, f := range logs {
		if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(ms.Auth)) {
			t.Errorf("log %s holds the AUTH string", f)
		}
	}
	if data, _ := os.ReadFile(proc.Log); !bytes.Contains(data, []byte("Ready to accept connections")) {
		t.Errorf("redis-server's log %s does not say it is ready:\n%s", proc.Log, data)
	}
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(ms.Auth)) {
				files = append(files, strings.TrimPrefix(p, dir+"/"))
			}
		}
		return nil
	})
	slices.Sort(files)
	if want := []string{"hosts/redis/redis/auth", "hosts/redis/redis/redis.conf"}; !slices.Equal(files, want) {
		t.Errorf("files holding the AUTH string: %v; want %v", files, want)
	}
	statusJSON, err := exec.CommandContext(ctx, self, "lab", "status", "--name", name, "--json").Output()
	if err != nil {
		t.Fatalf("lab status --json: %v", err)
	}
	var views []struct {
		ManagedServices []lab.ManagedServiceStatus `json:"managedServices"`
	}
	if err := json.Unmarshal(statusJSON, &views); err != nil || len(views) != 1 {
		t.Fatalf("lab status --json: %v: %s", err, statusJSON)
	}
	wantStatus := []lab.ManagedServiceStatus{
		{Host: "redis", Kind: "redis", Address: "10.60.0.3:6378", TLS: true, Auth: true, PID: proc.PID, Running: true, Log: proc.Log},
		{Host: "redis-plain", Kind: "redis", Address: "10.60.0.4:6379", PID: process(t, name, "redis-plain").PID, Running: true,
			Log: process(t, name, "redis-plain").Log},
	}
	if !slices.Equal(views[0].ManagedServices, wantStatus) {
		t.Errorf("lab status --json managedServices: got %+v; want %+v", views[0].ManagedServices, wantStatus)
	}
	statusText, err := exec.CommandContext(ctx, self, "lab", "status", "--name", name).Output()
	if err != nil {
		t.Fatalf("lab status: %v", err)
	}
	if !bytes.Contains(statusText, []byte("10.60.0.3:6378")) || !bytes.Contains(statusText, []byte("MANAGED SERVICE")) {
		t.Errorf("lab status does not show the instances:\n%s", statusText)
	}
	for _, out := range [][]byte{statusJSON, statusText} {
		if bytes.Contains(out, []byte(ms.Auth)) {
			t.Errorf("lab status shows the AUTH string")
		}
	}

	// lab up of the up lab changes nothing; after redis-server dies, the lab is not alive (lab gc
	// would remove it) and lab up starts it again with the same CA and AUTH string.
	up(t, name, self)
	if p := process(t, name, "redis"); p != proc {
		t.Errorf("lab up of an up lab restarted redis: %+v, was %+v", p, proc)
	}
	if err := syscall.Kill(proc.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	roottest.WaitFor(t, 5*time.Second, "redis-server killed", func() bool { return !proc.Running() })
	if st, err := netns.LoadState(name); err != nil || st.Alive() {
		t.Errorf("with its redis-server dead, the lab counts as alive (%v)", err)
	}
	up(t, name, self)
	again := process(t, name, "redis")
	if again.PID == proc.PID || !again.Running() {
		t.Errorf("lab up did not restart the dead redis-server: %+v", again)
	}
	restarted, err := l.ManagedService("redis")
	if err != nil || !bytes.Equal(restarted.CAPEM, ms.CAPEM) || restarted.Auth != ms.Auth {
		t.Errorf("after the restart the instance's CA or AUTH string changed (%v)", err)
	}
	rc, err := redis.Dial(ctx, dial, addr, tlsCfg, ms.Auth)
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if v, err := rc.Do(ctx, "PING"); v != "PONG" || err != nil {
		t.Errorf("PING after the restart: got %v, %v", v, err)
	}
	rc.Close()

	// lab down stops every redis-server of the lab and removes its files.
	if out, err := exec.CommandContext(ctx, self, "lab", "down", "--name", name).CombinedOutput(); err != nil {
		t.Fatalf("lab down: %v: %s", err, out)
	}
	if pids := redisServers(dir); len(pids) > 0 {
		t.Errorf("redis-server processes of the lab left after lab down: %v", pids)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab state %s left after lab down (%v)", dir, err)
	}
	all, err := netns.ListNamespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range all {
		if strings.HasPrefix(ns, netns.Prefix+name+"-") {
			t.Errorf("namespace %s left after lab down", ns)
		}
	}
}
