package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachgate/lab/internal/roottest"
	"reachgate/lab/netns"
)

// The integration test's little VPC: a router namespace with the VIP, one client and two
// backends, each on a /32 veth as the lab wires hosts.
const (
	nsRouter  = "rg-tlb-r"
	nsClient  = "rg-tlb-c"
	nsB1      = "rg-tlb-b1"
	nsB2      = "rg-tlb-b2"
	clientIP  = "172.31.23.209"
	clientGW  = "172.31.23.1"
	backendGW = "10.36.0.1"
	testVIP   = "10.128.0.28"
)

// buildNet creates the namespaces and deletes them when the test ends.
func buildNet(t *testing.T) {
	t.Helper()
	all := []string{nsRouter, nsClient, nsB1, nsB2}
	for _, ns := range all {
		// A crashed earlier run of this test may have left its own namespaces behind.
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	t.Cleanup(func() {
		for _, ns := range all {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("delete namespace %s: %v: %s", ns, err, out)
			}
		}
	})
	for _, ns := range all {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("create namespace %s: %v: %s", ns, err, out)
		}
	}
	router := []string{"link set lo up", "route replace blackhole default"}
	hosts := []struct{ ns, ifname, ip, gw string }{
		{nsClient, "c0", clientIP, clientGW},
		{nsB1, "b1", "10.36.0.2", backendGW},
		{nsB2, "b2", "10.36.0.3", backendGW},
	}
	for _, h := range hosts {
		router = append(router,
			fmt.Sprintf("link add %s type veth peer name eth0 netns %s", h.ifname, h.ns),
			fmt.Sprintf("addr add %s/32 dev %s", h.gw, h.ifname),
			fmt.Sprintf("link set %s up", h.ifname),
			fmt.Sprintf("route replace %s/32 dev %s", h.ip, h.ifname))
	}
	roottest.IPBatch(t, nsRouter, router...)
	if err := netns.WriteSysctl(nsRouter, "net/ipv4/ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		roottest.IPBatch(t, h.ns, "link set lo up",
			fmt.Sprintf("addr add %s/32 dev eth0", h.ip),
			"link set eth0 up",
			fmt.Sprintf("route replace %s/32 dev eth0 scope link", h.gw),
			fmt.Sprintf("route replace default via %s dev eth0", h.gw))
	}
}

// nftIn runs nft in a namespace of the test and returns its output.
func nftIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s in %s: %v: %s", strings.Join(args, " "), ns, err, out)
	}
	return string(out)
}

// backend is an HTTP server in a backend namespace that answers "<name> <client addr>".
type backend struct {
	name, ns, addr string
	srv            *http.Server
}

func startBackend(t *testing.T, name, ns, ip string) *backend {
	t.Helper()
	b := &backend{name: name, ns: ns, addr: net.JoinHostPort(ip, "80")}
	b.start(t)
	t.Cleanup(b.stop)
	return b
}

func (b *backend) start(t *testing.T) {
	t.Helper()
	l, err := netns.Listen(b.ns, "tcp", b.addr)
	if err != nil {
		t.Fatalf("listen in %s: %v", b.ns, err)
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", b.name, r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
}

// stop closes the listener: new connections are refused, as by a dead pod's node.
func (b *backend) stop() { _ = b.srv.Close() }

// client makes one new connection per request from the client namespace.
type client struct{ http *http.Client }

func newClient() client {
	return client{&http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: netns.Dialer(nsClient), DisableKeepAlives: true}}}
}

// get asks the VIP; it returns the answering backend's name and the client address it saw.
func (c client) get(ctx context.Context) (name, seen string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+testVIP+"/", nil)
	if err != nil {
		return "", "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	name, seen, _ = strings.Cut(string(body), " ")
	return name, seen, nil
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
