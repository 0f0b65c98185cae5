package gke

import (
	"context"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// An idle pass reads pods from the last list while the pods' watch reports no change; a
// busy pass, a change, or a cache without a running watch lists again.
func TestIdlePassListsOnlyAfterAChange(t *testing.T) {
	cs := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}})
	c := &Controller{cs: cs, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	lists := func() int {
		n := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == "list" && a.GetResource().Resource == "pods" {
				n++
			}
		}
		return n
	}
	read := func(idle bool) *corev1.PodList {
		t.Helper()
		c.idle = idle
		l, err := c.listPods(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	expect := func(what string, want int) {
		t.Helper()
		if got := lists(); got != want {
			t.Errorf("%s: %d pod lists so far, want %d", what, got, want)
		}
	}

	read(true)
	read(true)
	expect("idle passes without a running watch", 2)

	c.podCache.watching()
	read(false)
	read(false)
	expect("busy passes", 4)
	l := read(true)
	expect("an idle pass after a busy one", 4)
	l.Items[0].Name = "changed-by-the-caller"
	if got := read(true).Items[0].Name; got != "a" {
		t.Errorf("idle pass read pod %q: a caller's change leaked into the cache", got)
	}
	expect("idle passes", 4)

	if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.podCache.changed() // what the pods' watch does on the event
	if got := len(read(true).Items); got != 2 {
		t.Errorf("idle pass after a change read %d pods, want 2", got)
	}
	expect("an idle pass after a change", 5)

	c.podCache.mu.Lock()
	c.podCache.at = time.Now().Add(-maxListAge)
	c.podCache.mu.Unlock()
	read(true)
	expect("an idle pass after maxListAge", 6)
}
