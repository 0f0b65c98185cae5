package gke

import (
	"context"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A change to any kind the controllers reconcile wakes them; nothing else does.
func TestWatchChangesKicks(t *testing.T) {
	cs := fake.NewSimpleClientset()
	c := &Controller{cs: cs, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kick := make(chan struct{}, 1)
	c.watchChanges(ctx, kick)
	// Let the watches open, then drop what their opening signalled.
	time.Sleep(200 * time.Millisecond)
	drain := func() {
		for {
			select {
			case <-kick:
			case <-time.After(100 * time.Millisecond):
				return
			}
		}
	}
	drain()
	expectKick := func(what string, change func() error) {
		t.Helper()
		if err := change(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-kick:
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: no wake-up within 2 s", what)
		}
		drain()
	}
	meta := metav1.ObjectMeta{Name: "x", Namespace: "default"}
	expectKick("pod", func() error {
		_, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: meta}, metav1.CreateOptions{})
		return err
	})
	expectKick("service", func() error {
		_, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: meta}, metav1.CreateOptions{})
		return err
	})
	expectKick("deployment", func() error {
		_, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: meta}, metav1.CreateOptions{})
		return err
	})
	expectKick("replicaset", func() error {
		_, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: meta}, metav1.CreateOptions{})
		return err
	})
	expectKick("namespace", func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{})
		return err
	})
	// A ConfigMap is not reconciled: it wakes nothing.
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: meta}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kick:
		t.Fatal("a ConfigMap woke the controllers")
	case <-time.After(300 * time.Millisecond):
	}
}

// A watch that ends (the lab's client ends every request after 10 s) is opened again from the
// last resourceVersion it saw, so it reports only changes: a bookmark moves the version on
// without a pass, and an error starts again from the objects as they are.
func TestWatchResumesFromLastVersion(t *testing.T) {
	cs := fake.NewSimpleClientset()
	opened := make(chan string, 10)
	watchers := make(chan *watch.FakeWatcher, 10)
	cs.PrependWatchReactor("services", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFake()
		opened <- a.(k8stesting.WatchActionImpl).GetWatchRestrictions().ResourceVersion
		watchers <- w
		return true, w, nil
	})
	c := &Controller{cs: cs, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kick := make(chan struct{}, 1)
	c.watchChanges(ctx, kick)
	next := func(want string) *watch.FakeWatcher {
		t.Helper()
		select {
		case rv := <-opened:
			if rv != want {
				t.Fatalf("watch opened from resourceVersion %q; want %q", rv, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no watch opened (want one from %q)", want)
		}
		return <-watchers
	}
	kicked := func() bool {
		select {
		case <-kick:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	}
	svc := func(rv string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default", ResourceVersion: rv}}
	}
	w := next("")
	w.Add(svc("7"))
	if !kicked() {
		t.Fatal("an added Service woke nothing")
	}
	w.Action(watch.Bookmark, svc("9"))
	if kicked() {
		t.Fatal("a bookmark woke the controllers")
	}
	w.Stop() // the client's timeout ends the watch
	w = next("9")
	w.Modify(svc("12"))
	if !kicked() {
		t.Fatal("a modified Service woke nothing")
	}
	w.Error(&metav1.Status{Code: 410, Reason: metav1.StatusReasonGone})
	kicked()
	w.Stop()
	next("")
}
