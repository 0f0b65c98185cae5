package gke

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An idle pass (no watch event for BusyFor) looks at processes, not at API objects: the
// pods and Services it reads are the ones the last list returned, as long as their watch
// has reported no change since. A busy pass always lists, so a step never acts on a list
// older than the writes of the pass before it. Listing pods twice and Services once every
// idle second was most of an idle lab's API load.

// maxListAge is how long an idle pass may use a list before it lists again all the same.
const maxListAge = 30 * time.Second

// listCache keeps one kind's last list for idle passes.
type listCache[L interface{ DeepCopy() L }] struct {
	// gen counts the changes the kind's watch reported, and the times it could not watch.
	gen atomic.Int64
	// watched is set once a watch of the kind runs: without one, every read lists.
	watched atomic.Bool

	mu    sync.Mutex
	list  L
	seen  int64 // gen when list was read
	at    time.Time
	valid bool
}

// changed is called by the kind's watch on every change, and when the watch fails.
func (lc *listCache[L]) changed() { lc.gen.Add(1) }

// watching records that the kind's watch runs.
func (lc *listCache[L]) watching() { lc.watched.Store(true) }

// get returns a copy of the cached list when idle and nothing changed since it was read,
// else lists (and keeps a copy).
func (lc *listCache[L]) get(ctx context.Context, idle bool, list func(context.Context) (L, error)) (L, error) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	gen := lc.gen.Load()
	if idle && lc.valid && lc.watched.Load() && gen == lc.seen && time.Since(lc.at) < maxListAge {
		return lc.list.DeepCopy(), nil
	}
	l, err := list(ctx)
	if err != nil {
		return l, err
	}
	lc.list, lc.seen, lc.at, lc.valid = l.DeepCopy(), gen, time.Now(), true
	return l, nil
}

// watchedKind is what watchChanges tells a kind's cache.
type watchedKind interface {
	changed()
	watching()
}

// listPods lists every pod (from the cache in an idle pass).
func (c *Controller) listPods(ctx context.Context) (*corev1.PodList, error) {
	return c.podCache.get(ctx, c.idle, func(ctx context.Context) (*corev1.PodList, error) {
		return c.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	})
}

// listServices lists every Service (from the cache in an idle pass).
func (c *Controller) listServices(ctx context.Context) (*corev1.ServiceList, error) {
	return c.svcCache.get(ctx, c.idle, func(ctx context.Context) (*corev1.ServiceList, error) {
		return c.cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	})
}
