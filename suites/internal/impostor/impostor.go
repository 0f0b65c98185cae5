// Package impostor stands in for the API server as a proxy's pods see it, for the suites that
// check whether a proxy verifies its upstream: inside each pod's network, the pod's own
// connections to the endpoint go to a TLS server on the pod's address whose certificate has
// the API server's names but comes from another CA. Nothing changes outside the pods.
package impostor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/framework/provider"
)

// Port is where the impostor listens inside each pod.
const Port = 18443

// ErrUnsupported is returned on providers that cannot act inside a pod's network.
var ErrUnsupported = errors.New("the provider cannot " + provider.AbilityText[provider.PodNetwork]())

// Impostor is installed in every pod a selector picks; Remove undoes it.
type Impostor struct {
	stops []func()
	undos []func(context.Context) error
}

// Swap installs the impostor in every pod of namespace "default" matching selector: it
// answers every request with status and body over TLS with cert.
func Swap(ctx context.Context, env provider.Environment, cs kubernetes.Interface, selector string, endpoint netip.AddrPort,
	cert tls.Certificate, status int, body string) (*Impostor, error) {
	pn, ok := env.(provider.PodNetwork)
	if !ok {
		return nil, ErrUnsupported
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("no pod matches %s", selector)
	}
	imp := &Impostor{}
	for _, p := range pods.Items {
		at, err := netip.ParseAddrPort(net.JoinHostPort(p.Status.PodIP, fmt.Sprint(Port)))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("pod %s: %w", p.Name, err), imp.Remove(ctx))
		}
		ln, err := pn.ListenInPod(p.Namespace, p.Name, at.String())
		if err != nil {
			return nil, errors.Join(fmt.Errorf("listen in pod %s: %w", p.Name, err), imp.Remove(ctx))
		}
		imp.stops = append(imp.stops, Serve(ln, cert, tls.VersionTLS12, 0, status, body))
		undo, err := pn.RedirectInPod(ctx, p.Namespace, p.Name, endpoint, at)
		if err != nil {
			return nil, errors.Join(err, imp.Remove(ctx))
		}
		imp.undos = append(imp.undos, undo)
	}
	return imp, nil
}

// Remove takes the redirects away and stops the servers. A nil Impostor is fine.
func (imp *Impostor) Remove(ctx context.Context) error {
	if imp == nil {
		return nil
	}
	var errs []error
	for _, undo := range imp.undos {
		errs = append(errs, undo(ctx))
	}
	imp.undos = nil
	for _, stop := range imp.stops {
		stop()
	}
	imp.stops = nil
	return errors.Join(errs...)
}

// Serve answers every request on ln with status and body over TLS (versions minV to maxV; 0
// is Go's default) until stop is called.
func Serve(ln net.Listener, cert tls.Certificate, minV, maxV uint16, status int, body string) (stop func()) {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV, MaxVersion: maxV},
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("test TLS server on %s: %v", ln.Addr(), err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}

// RestartProxies kills the containers of the pods selector picks, so none keeps an upstream
// connection or a certificate from before, and waits until check passes four times in a row
// (every replica serving again), at most 60 s.
func RestartProxies(ctx context.Context, env provider.Environment, cs kubernetes.Interface, selector string, check func(context.Context) error) error {
	killer, ok := env.(provider.PodKiller)
	if !ok {
		return errors.New("the provider cannot " + provider.AbilityText[provider.PodKiller]())
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
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for ok := 0; ok < 4; {
		if time.Now().After(deadline) {
			return fmt.Errorf("proxies did not serve again within 60 s of the restart: %v", last)
		}
		if last = check(ctx); last == nil {
			ok++
		} else {
			ok = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}
