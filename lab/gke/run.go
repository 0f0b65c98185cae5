// Package gke is the lab's stand-in for what GKE runs around a control plane: kubelets
// (node status, pods as real processes in pod namespaces), the Deployment/ReplicaSet and
// garbage-collection controllers, and the service controller that turns an internal
// LoadBalancer Service into an internal passthrough load balancer VIP. It runs as one daemon
// process per lab, inside a node's namespace, talking to the API server over the lab network.
package gke

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"reachgate/lab"
	"reachgate/lab/controlplane"
	"reachgate/lab/netns"
)

// Interval is how often the controllers reconcile while the cluster is changing: for BusyFor
// after any change of a pod, Service, Deployment, ReplicaSet or namespace (watched), and
// never more often. Pods and load balancers follow objects within a few intervals (a pod's
// process starts, then it turns Ready on a later pass).
const Interval = 250 * time.Millisecond

// IdleInterval is how often they reconcile when nothing changed for BusyFor: what no watch
// reports (a pod's process that died, a load balancer's process that died, the lab going
// down) is seen within it. Such an idle pass runs only the steps that look at processes
// (services, pods): the ServiceAccount, Deployment and ReplicaSet steps follow API objects
// alone, and a change of those arrives as a watch event, which starts a full pass. Polling
// every Interval at all times cost each idle lab about 25 API requests a second, and three
// idle labs kept a quarter of two cores busy; full idle passes every second still cost an
// idle lab's kube-apiserver about 7 % of a core.
const IdleInterval = time.Second

// BusyFor is how long the controllers keep reconciling every Interval after a change.
const BusyFor = 5 * time.Second

// Controller holds the daemon's view of the lab.
type Controller struct {
	lab   *lab.Lab
	cs    kubernetes.Interface
	self  string
	log   *slog.Logger
	nodes []controlplane.NodeSpec
	// deadSince remembers when a pod's container was first seen dead (restart back-off).
	deadSince map[string]time.Time
	// idle is set during an idle pass; podCache and svcCache serve its lists (listcache.go).
	idle     bool
	podCache listCache[*corev1.PodList]
	svcCache listCache[*corev1.ServiceList]
}

// Run reconciles until ctx ends or the lab is being torn down.
func Run(ctx context.Context, name string, log *slog.Logger) error {
	l, err := lab.Open(name)
	if err != nil {
		return err
	}
	if l.CP == nil {
		return fmt.Errorf("lab %s has no cluster", name)
	}
	cs, err := l.Clientset("")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c := &Controller{lab: l, cs: cs, self: self, log: log, nodes: l.NodeSpecs(), deadSince: map[string]time.Time{}}
	var lastBeat time.Time
	kick := make(chan struct{}, 1)
	c.watchChanges(ctx, kick)
	lastChange := time.Now()
	for {
		if st, err := netns.LoadState(name); err != nil || st.Phase == netns.PhaseDown {
			log.Info("lab is going away; controllers stop")
			return nil
		}
		if time.Since(lastBeat) >= lab.HeartbeatInterval {
			if err := controlplane.ReportStatus(ctx, cs, c.nodes); err != nil && ctx.Err() == nil {
				log.Warn("node heartbeat failed", "err", err)
			} else {
				lastBeat = time.Now()
			}
		}
		loopStart := time.Now()
		idle := time.Since(lastChange) > BusyFor
		c.idle = idle
		for _, step := range []struct {
			name string
			fn   func(context.Context) error
			// onlyBusy: the step follows API objects alone, so a pass with no change seen
			// since BusyFor skips it (a watch event starts a full pass again).
			onlyBusy bool
		}{
			{"serviceaccounts", c.reconcileServiceAccounts, true},
			{"deployments", c.reconcileDeployments, true},
			{"replicasets", c.reconcileReplicaSets, true},
			// Services before pods: a load balancer drops a deleted pod before its sandbox goes.
			{"services", c.reconcileServices, false},
			{"pods", c.reconcilePods, false},
		} {
			if idle && step.onlyBusy {
				continue
			}
			if err := step.fn(ctx); err != nil && ctx.Err() == nil {
				log.Warn("reconcile failed", "controller", step.name, "err", err)
			}
		}
		if d := time.Since(loopStart); d > 2*Interval {
			log.Debug("slow reconcile loop", "took", d.Round(time.Millisecond).String())
		}
		next := Interval
		if idle {
			next = IdleInterval
		}
		wait := time.NewTimer(max(next-time.Since(loopStart), 0))
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil
		case <-kick:
			wait.Stop()
			lastChange = time.Now()
			// Never more often than every Interval: a pass's own writes come back as events.
			if !sleepCtx(ctx, Interval-time.Since(loopStart)) {
				return nil
			}
		case <-wait.C:
		}
	}
}

// sleepCtx sleeps for d (nothing when d ≤ 0) and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// watchChanges watches the kinds the controllers reconcile and signals kick (without
// blocking; one pending signal is enough) on every event. The lab's client ends every request,
// a watch too, after its 10 s timeout: a watch that ends is opened again from the last
// resourceVersion it saw, so it reports only what changed since. Reopened from scratch, as
// it once was, its first events (the objects as they are) kicked every 10 s and kept an idle
// lab's controllers polling at the busy rate half of the time. A watch whose version is too
// old (410 Gone) starts again from the objects as they are, which costs one pass.
func (c *Controller) watchChanges(ctx context.Context, kick chan<- struct{}) {
	watchers := map[string]func(context.Context, metav1.ListOptions) (watch.Interface, error){
		"pods":        c.cs.CoreV1().Pods("").Watch,
		"services":    c.cs.CoreV1().Services("").Watch,
		"namespaces":  c.cs.CoreV1().Namespaces().Watch,
		"deployments": c.cs.AppsV1().Deployments("").Watch,
		"replicasets": c.cs.AppsV1().ReplicaSets("").Watch,
	}
	caches := map[string]watchedKind{"pods": &c.podCache, "services": &c.svcCache}
	for kind, open := range watchers {
		cache := caches[kind]
		go func() {
			rv := ""
			for ctx.Err() == nil {
				w, err := open(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
				if cache != nil {
					if err == nil {
						cache.watching()
					} else {
						cache.changed() // what happened while it could not watch is unknown
					}
				}
				if err != nil {
					if ctx.Err() == nil {
						c.log.Debug("watch failed; polling covers it", "kind", kind, "err", err)
					}
					rv = ""
					sleepCtx(ctx, IdleInterval)
					continue
				}
				opened := time.Now()
				for ev := range w.ResultChan() {
					next, changed := watchProgress(ev)
					if next != "" {
						rv = next
					}
					if ev.Type == watch.Error {
						rv = "" // e.g. 410 Gone: the version is too old; start from the objects
					}
					if !changed {
						continue
					}
					if cache != nil {
						cache.changed()
					}
					select {
					case kick <- struct{}{}:
					default:
					}
				}
				w.Stop()
				if time.Since(opened) < IdleInterval {
					sleepCtx(ctx, IdleInterval) // a watch the server keeps closing is not reopened in a spin
				}
			}
		}()
	}
}

// watchProgress is the resourceVersion an event carries ("" when none) and whether it
// reports a change worth a pass: a bookmark only moves the version on.
func watchProgress(ev watch.Event) (rv string, changed bool) {
	if m, err := meta.Accessor(ev.Object); err == nil && ev.Type != watch.Error {
		rv = m.GetResourceVersion()
	}
	return rv, ev.Type != watch.Bookmark
}

// state reloads the lab's state (other processes add to it).
func (c *Controller) state() *netns.State {
	st := c.lab.State
	if err := st.Reload(); err != nil {
		c.log.Warn("reload lab state", "err", err)
	}
	return st
}

// reconcileServiceAccounts gives every namespace its "default" ServiceAccount, as the
// ServiceAccount controller does; pods cannot be created without it.
func (c *Controller) reconcileServiceAccounts(ctx context.Context) error {
	nss, err := c.cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp != nil {
			continue
		}
		if _, err := c.cs.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{}); apierrors.IsNotFound(err) {
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}}
			if _, err := c.cs.CoreV1().ServiceAccounts(ns.Name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
		}
	}
	return nil
}
