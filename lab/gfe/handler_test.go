package gfe_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"reachgate/lab/gfe"
)

func TestForward(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	// The Host header's case and port do not matter.
	for _, h := range []string{host, strings.ToUpper(host) + ":443"} {
		body := f.want(t, h, "/version", goodToken, http.StatusOK, "v1.33.0")
		var v versionAnswer
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("decode /version: %v", err)
		}
		if v.Authorization != "Bearer "+goodToken {
			t.Errorf("the control plane got Authorization %q, want the caller's", v.Authorization)
		}
		if v.ClientCert {
			t.Error("the forwarded request carried a client certificate; it must not")
		}
		if !strings.HasPrefix(v.ForwardedFor, "127.0.0.1") {
			t.Errorf("X-Forwarded-For %q, want the caller's address", v.ForwardedFor)
		}
	}
	f.want(t, host, "/no-such-path", goodToken, http.StatusNotFound)
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *gfe.Config) {
		ep := c.Endpoints[0]
		ep.Host, ep.Cluster, ep.AllowExternalTraffic = "gke-9z9z9z.europe-west1.gke.goog", "closed-cluster", false
		c.Endpoints = append(c.Endpoints, ep)
	})
	tests := []struct {
		name   string
		host   string
		token  string
		status int
		body   []string
	}{
		{"unknown host", "gke-000000.us-central1.gke.goog", goodToken, http.StatusNotFound,
			[]string{"no GKE DNS endpoint is served at gke-000000.us-central1.gke.goog"}},
		{"external traffic refused", "gke-9z9z9z.europe-west1.gke.goog", goodToken, http.StatusForbidden,
			[]string{"allowExternalTraffic is false", "closed-cluster"}},
		{"no token", host, "", http.StatusUnauthorized, []string{"a bearer token is required"}},
		{"unknown token", host, badToken, http.StatusUnauthorized, []string{"the token is not valid"}},
		{"principal not listed", host, otherTok, http.StatusForbidden,
			[]string{"principal " + other + " lacks container.clusters.connect on cluster " + cluster}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.want(t, tc.host, "/version", tc.token, tc.status, tc.body...)
		})
	}

	// Basic credentials are not a bearer token.
	req, err := http.NewRequest(http.MethodGet, f.front.URL+"/version", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.SetBasicAuth("admin", "password")
	resp, err := f.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("basic auth: status %d, want 401", resp.StatusCode)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	f := newFixture(t, func(c *gfe.Config) { c.Endpoints[0].Upstream = closed })
	f.want(t, host, "/version", goodToken, http.StatusBadGateway)
}

func TestReviewCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.want(t, host, "/version", goodToken, http.StatusOK)
	f.want(t, host, "/version", goodToken, http.StatusOK)
	if n := f.reviews.Load(); n != 1 {
		t.Errorf("%d TokenReviews for one token asked twice, want 1", n)
	}
	f.want(t, host, "/version", badToken, http.StatusUnauthorized)
	f.want(t, host, "/version", badToken, http.StatusUnauthorized)
	if n := f.reviews.Load(); n != 2 {
		t.Errorf("%d TokenReviews after a bad token asked twice, want 2 (negative answers are cached too)", n)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.want(t, host, "/version", goodToken, http.StatusOK)
	f.want(t, host, "/version", otherTok, http.StatusForbidden)
	f.want(t, host, "/version", badToken, http.StatusUnauthorized)
	f.want(t, host, "/version", "", http.StatusUnauthorized)

	logs := f.logs.String()
	for _, secret := range []string{goodToken, otherTok, badToken, "Bearer", "Authorization"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{
		"method=GET host=" + host + " path=/version status=200 principal=" + reader + " duration_ms=",
		"status=403 principal=" + other,
		"status=401 principal=-",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// eventually retries check until it reports true or a few seconds pass: the handler
// looks at its config once a second at most.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConfigReload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *gfe.Config) { c.Endpoints[0].Principals = nil })
	f.want(t, host, "/version", goodToken, http.StatusForbidden, "lacks container.clusters.connect")

	// IAM grants the reader container.clusters.connect.
	f.config.Endpoints[0].Principals = []string{reader}
	f.writeConfig(t)
	eventually(t, "the principal's grant", func() bool {
		status, _ := f.get(t, host, "/version", goodToken)
		return status == http.StatusOK
	})

	// A malformed config keeps the last good one, and is logged once.
	if err := os.WriteFile(f.configPath, []byte(`{"endpoints":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the malformed config's log line", func() bool {
		f.want(t, host, "/version", goodToken, http.StatusOK)
		return strings.Contains(f.logs.String(), "keeping the last good config")
	})
	time.Sleep(1100 * time.Millisecond)
	f.want(t, host, "/version", goodToken, http.StatusOK)
	if n := strings.Count(f.logs.String(), "keeping the last good config"); n != 1 {
		t.Errorf("the malformed config was logged %d times, want once", n)
	}

	// So does a missing one.
	if err := os.Remove(f.configPath); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the missing config's log line", func() bool {
		f.want(t, host, "/version", goodToken, http.StatusOK)
		return strings.Contains(f.logs.String(), "the config file is missing")
	})

	// The user-traffic switch is turned off.
	f.config.Endpoints[0].AllowExternalTraffic = false
	f.writeConfig(t)
	eventually(t, "allowExternalTraffic=false", func() bool {
		status, _ := f.get(t, host, "/version", goodToken)
		return status == http.StatusForbidden
	})
}

func TestReadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := gfe.ReadConfig(dir + "/missing.json")
	if err != nil || len(c.Endpoints) != 0 {
		t.Fatalf("ReadConfig(missing) = %+v, %v; want empty, nil", c, err)
	}
	path := dir + "/gfe.json"
	want := gfe.Config{Endpoints: []gfe.Endpoint{{Host: host, Cluster: cluster, Principals: []string{reader}, Upstream: "100.126.0.1:443"}}}
	if err := gfe.WriteConfig(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := gfe.ReadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Endpoints) != 1 || got.Endpoints[0].Host != host || got.Endpoints[0].Principals[0] != reader {
		t.Errorf("ReadConfig = %+v, want %+v", got, want)
	}
	for name, bad := range map[string]gfe.Config{
		"no upstream":     {Endpoints: []gfe.Endpoint{{Host: host}}},
		"no port":         {Endpoints: []gfe.Endpoint{{Host: host, Upstream: "100.126.0.1"}}},
		"duplicate hosts": {Endpoints: []gfe.Endpoint{{Host: host, Upstream: "a:1"}, {Host: strings.ToUpper(host) + ".", Upstream: "a:1"}}},
	} {
		if err := gfe.WriteConfig(path, bad); err != nil {
			t.Fatal(err)
		}
		if _, err := gfe.ReadConfig(path); err == nil {
			t.Errorf("%s: ReadConfig accepted %+v", name, bad)
		}
	}
}

func TestStreaming(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	req, err := http.NewRequest(http.MethodGet, f.front.URL+"/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+goodToken)
	resp, err := f.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	// The first line arrives while the control plane still holds the response open.
	line, err := r.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(f.release)
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func TestUpgrade(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	conn, err := net.Dial("tcp", f.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = io.WriteString(conn, "GET /upgrade HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+goodToken+
		"\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	if _, err := io.WriteString(conn, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := br.ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	conn.Close()
	eventually(t, "the upgrade's access line", func() bool {
		return strings.Contains(f.logs.String(), "path=/upgrade status=101 principal="+reader)
	})
}
