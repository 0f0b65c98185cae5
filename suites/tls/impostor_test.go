package tls

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/framework/provider"
	"reachgate/lab"
	"reachgate/lab/netns"
)

// labAccess is the lab provider's ability to hand over the lab itself; the impostor needs
// the proxy pods' network namespaces.
type labAccess interface{ Lab() *lab.Lab }

// errNoLab is returned by swapUpstream on providers other than the lab.
var errNoLab = errors.New("the provider does not expose the proxy pods' network namespaces")

// impostorPort is where the impostor listens inside each proxy pod.
const impostorPort = 18443

// impostorTable is the nft table that swaps the upstream inside a proxy pod.
const impostorTable = "reachgate_impostor"

// impostor stands in for the API server as seen from the proxy pods: inside each pod's
// namespace, nft redirects the pod's own connections to endpoint:443 to a Go TLS server on
// the pod's address, whose certificate has the same names as the API server's but comes
// from another CA. Nothing changes outside the pods.
type impostor struct {
	stops  []func()
	tables []string // pod namespaces holding the table
}

// swapUpstream installs the impostor in every pod matching selector.
func swapUpstream(ctx context.Context, env provider.Environment, cs kubernetes.Interface, selector, endpoint string, cert tls.Certificate, body string) (*impostor, error) {
	la, ok := env.(labAccess)
	if !ok {
		return nil, errNoLab
	}
	l := la.Lab()
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("no pod matches %s", selector)
	}
	imp := &impostor{}
	for _, p := range pods.Items {
		ns := netns.NamespaceName(l.State.Name, "p", p.Namespace+"-"+p.Name)
		ip := p.Status.PodIP
		ln, err := netns.Listen(ns, "tcp", net.JoinHostPort(ip, fmt.Sprint(impostorPort)))
		if err != nil {
			return imp, errors.Join(fmt.Errorf("listen in pod %s: %w", p.Name, err), imp.remove(ctx))
		}
		imp.stops = append(imp.stops, serveHTTPS(ln, cert, tls.VersionTLS12, 0, 200, body))
		rules := fmt.Sprintf("table ip %s {\n chain out {\n  type nat hook output priority -100; policy accept;\n  ip daddr %s tcp dport 443 dnat to %s:%d\n }\n}\n",
			impostorTable, endpoint, ip, impostorPort)
		if out, err := nft(ctx, ns, rules, "-f", "-"); err != nil {
			return imp, errors.Join(fmt.Errorf("nft in pod %s: %w: %s", p.Name, err, out), imp.remove(ctx))
		}
		imp.tables = append(imp.tables, ns)
	}
	return imp, nil
}

func nft(ctx context.Context, ns, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// remove deletes the redirects and stops the servers.
func (imp *impostor) remove(ctx context.Context) error {
	if imp == nil {
		return nil
	}
	var errs []error
	for _, ns := range imp.tables {
		if out, err := nft(ctx, ns, "", "delete", "table", "ip", impostorTable); err != nil && !strings.Contains(out, "No such file") {
			errs = append(errs, fmt.Errorf("delete nft table in %s: %w: %s", ns, err, out))
		}
	}
	imp.tables = nil
	for _, stop := range imp.stops {
		stop()
	}
	imp.stops = nil
	return errors.Join(errs...)
}

// restartProxies kills the proxies' processes so that none keeps an upstream connection
// from before the swap, and waits until the kubelet has them serving again.
func restartProxies(ctx context.Context, env provider.Environment, cs kubernetes.Interface, selector string, probeAddr func(context.Context) error) error {
	killer, ok := env.(provider.PodKiller)
	if !ok {
		return errors.New("the provider cannot kill a pod's containers")
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		if err := killer.KillPod(ctx, p.Namespace, p.Name); err != nil {
			return err
		}
	}
	// Both replicas must serve again: two successes in a row over fresh connections.
	deadline := time.Now().Add(60 * time.Second)
	ok2 := 0
	for time.Now().Before(deadline) && ok2 < 4 {
		if err := probeAddr(ctx); err == nil {
			ok2++
		} else {
			ok2 = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if ok2 < 4 {
		return errors.New("proxies did not serve again within 60 s of the restart")
	}
	return nil
}
