package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	vnetns "github.com/vishvananda/netns"
)

// Do runs fn on an OS thread switched into the named namespace. Sockets fn creates stay in
// that namespace after the thread switches back. fn must not start goroutines that create
// sockets, and must use IP literals (name resolution runs on other threads).
func Do(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("read current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := vnetns.GetFromPath(NamespacePath(ns))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open namespace %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := vnetns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			// Leave the thread locked: the runtime discards it when the goroutine ends.
			errc <- fmt.Errorf("return from namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// DialFunc is the shape of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer returns a dial function whose sockets live in the named namespace.
func Dialer(ns string) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := Do(ns, func() error {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			conn = c
			return err
		})
		return conn, err
	}
}

// Listen opens a listener whose socket lives in the named namespace.
func Listen(ns, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := Do(ns, func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// WriteSysctl sets a per-namespace sysctl such as net/ipv4/ip_forward.
func WriteSysctl(ns, key, value string) error {
	return Do(ns, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	})
}
