package gke

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"reachgate/lab/controlplane"
)

const hashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func podTemplate(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "edge"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
}

func TestTemplateHash(t *testing.T) {
	t.Parallel()
	a, b := podTemplate("nginx:1.25"), podTemplate("nginx:1.25")
	if ha, hb := templateHash(a), templateHash(b); ha != hb {
		t.Errorf("templateHash of equal templates: got %q and %q; want equal", ha, hb)
	}
	if h1, h2 := templateHash(a), templateHash(a); h1 != h2 {
		t.Errorf("templateHash twice: got %q and %q; want equal", h1, h2)
	}
	annotated := podTemplate("nginx:1.25")
	annotated.Annotations = map[string]string{"reachgate.dev/config-sha256": "0123"}
	for name, other := range map[string]corev1.PodTemplateSpec{
		"another image":      podTemplate("nginx:1.26"),
		"an annotation":      annotated,
		"another label":      {ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web2", "tier": "edge"}}, Spec: a.Spec},
		"an empty template":  {},
		"another containers": {ObjectMeta: a.ObjectMeta, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "other", Image: "nginx:1.25"}}}},
	} {
		if templateHash(other) == templateHash(a) {
			t.Errorf("templateHash with %s = %q; want it to differ from %q", name, templateHash(other), templateHash(a))
		}
	}
	// Many templates: distinct hashes, each 10 characters from the alphabet.
	seen := map[string]string{}
	for i := range 200 {
		image := fmt.Sprintf("nginx:1.%d", i)
		h := templateHash(podTemplate(image))
		if len(h) != 10 {
			t.Errorf("templateHash(%s) = %q: got %d characters; want 10", image, h, len(h))
		}
		if i := strings.IndexFunc(h, func(r rune) bool { return !strings.ContainsRune(hashAlphabet, r) }); i >= 0 {
			t.Errorf("templateHash(%s) = %q: got character %q; want only %q", image, h, h[i], hashAlphabet)
		}
		if prev, dup := seen[h]; dup {
			t.Errorf("templateHash(%s) = %q; the same as for %s", image, h, prev)
		}
		seen[h] = image
	}
}

// newController returns a Controller over a fake clientset with two nodes. The fake does
// not assign UIDs, and the controllers find what they own by UID, so a reactor gives every
// created object a unique one, as the API server does.
func newController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	var n atomic.Int64
	cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if ca, ok := a.(k8stesting.CreateAction); ok && ca.GetSubresource() == "" {
			if m, err := meta.Accessor(ca.GetObject()); err == nil && m.GetUID() == "" {
				m.SetUID(types.UID(fmt.Sprintf("uid-%d", n.Add(1))))
			}
		}
		return false, nil, nil
	})
	c := &Controller{cs: cs, log: slog.New(slog.DiscardHandler),
		nodes: []controlplane.NodeSpec{{Name: "node-a"}, {Name: "node-b"}}}
	return c, cs
}

func deployment(name, uid string, replicas int32, image string) *appsv1.Deployment {
	tmpl := podTemplate(image)
	tmpl.Labels = map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid), Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: tmpl},
	}
}

func reconcile(t *testing.T, c *Controller) {
	t.Helper()
	ctx := context.Background()
	if err := c.reconcileDeployments(ctx); err != nil {
		t.Fatalf("reconcileDeployments: %v", err)
	}
	if err := c.reconcileReplicaSets(ctx); err != nil {
		t.Fatalf("reconcileReplicaSets: %v", err)
	}
}

func replicaSets(t *testing.T, cs *fake.Clientset) []appsv1.ReplicaSet {
	t.Helper()
	l, err := cs.AppsV1().ReplicaSets("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list replicasets: %v", err)
	}
	slices.SortFunc(l.Items, func(a, b appsv1.ReplicaSet) int { return strings.Compare(a.Name, b.Name) })
	return l.Items
}

func pods(t *testing.T, cs *fake.Clientset) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	slices.SortFunc(l.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Spec.NodeName+a.Name, b.Spec.NodeName+b.Name) })
	return l.Items
}

// checkOwned checks that every pod is controlled by rs and that the pods sit on nodes.
func checkOwned(t *testing.T, ps []corev1.Pod, rs appsv1.ReplicaSet, nodes []string) {
	t.Helper()
	var got []string
	for _, p := range ps {
		got = append(got, p.Spec.NodeName)
		owner := metav1.GetControllerOf(&p)
		if owner == nil || owner.UID != rs.UID || owner.Kind != "ReplicaSet" || owner.Name != rs.Name {
			t.Errorf("pod %s controller = %+v; want ReplicaSet %s (uid %s)", p.Name, owner, rs.Name, rs.UID)
		}
		if !strings.HasPrefix(p.Name, rs.Name+"-") {
			t.Errorf("pod name %q; want prefix %q", p.Name, rs.Name+"-")
		}
		if p.Labels["pod-template-hash"] != rs.Labels["pod-template-hash"] {
			t.Errorf("pod %s label pod-template-hash = %q; want %q", p.Name, p.Labels["pod-template-hash"], rs.Labels["pod-template-hash"])
		}
	}
	if diff := cmp.Diff(nodes, got); diff != "" {
		t.Errorf("pod nodes mismatch (-want +got):\n%s", diff)
	}
}

func TestReconcileDeploymentCreatesReplicaSetAndSpreadsPods(t *testing.T) {
	t.Parallel()
	d := deployment("web", "dep-web", 2, "nginx:1.25")
	c, cs := newController(t, d)
	reconcile(t, c)

	rss := replicaSets(t, cs)
	if len(rss) != 1 {
		t.Fatalf("got %d replicasets; want 1", len(rss))
	}
	rs := rss[0]
	hash := templateHash(d.Spec.Template)
	if want := "web-" + hash; rs.Name != want {
		t.Errorf("replicaset name = %q; want %q", rs.Name, want)
	}
	if rs.UID == "" {
		t.Fatal("replicaset has no UID; the test's reactor should have set one")
	}
	owner := metav1.GetControllerOf(&rs)
	if owner == nil || owner.UID != d.UID || owner.Kind != "Deployment" || owner.Name != "web" {
		t.Errorf("replicaset controller = %+v; want Deployment web (uid %s)", owner, d.UID)
	}
	if rs.Spec.Replicas == nil || *rs.Spec.Replicas != 2 {
		t.Errorf("replicaset replicas = %v; want 2", rs.Spec.Replicas)
	}
	wantLabels := map[string]string{"app": "web", "pod-template-hash": hash}
	if diff := cmp.Diff(wantLabels, rs.Spec.Template.Labels); diff != "" {
		t.Errorf("replicaset template labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLabels, rs.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("replicaset selector (-want +got):\n%s", diff)
	}
	// The Deployment's own template is left alone.
	cur, err := cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cur.Spec.Template.Labels["pod-template-hash"]; ok {
		t.Errorf("deployment template labels = %v; want no pod-template-hash", cur.Spec.Template.Labels)
	}
	checkOwned(t, pods(t, cs), rs, []string{"node-a", "node-b"})

	// Reconciling again changes nothing.
	reconcile(t, c)
	if got := replicaSets(t, cs); len(got) != 1 || got[0].UID != rs.UID {
		t.Errorf("after a second reconcile: got replicasets %v; want only %s", names(got), rs.Name)
	}
	checkOwned(t, pods(t, cs), rs, []string{"node-a", "node-b"})
}

func TestReconcileDeploymentStatus(t *testing.T) {
	t.Parallel()
	c, cs := newController(t, deployment("web", "dep-web", 2, "nginx:1.25"))
	// Status trails by a pass each: pods appear in the first, the ReplicaSet counts them in
	// the second, and the Deployment reads that in the third.
	for range 3 {
		reconcile(t, c)
	}
	d, err := cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Status
	// No kubelet runs here: pods exist but none is ready.
	if got.Replicas != 2 || got.UpdatedReplicas != 2 || got.ReadyReplicas != 0 || got.AvailableReplicas != 0 || got.UnavailableReplicas != 2 {
		t.Errorf("deployment status = replicas %d updated %d ready %d available %d unavailable %d; want 2 2 0 0 2",
			got.Replicas, got.UpdatedReplicas, got.ReadyReplicas, got.AvailableReplicas, got.UnavailableReplicas)
	}
	if got.ObservedGeneration != 1 {
		t.Errorf("deployment observedGeneration = %d; want 1", got.ObservedGeneration)
	}
	if len(got.Conditions) != 1 || got.Conditions[0].Type != appsv1.DeploymentAvailable || got.Conditions[0].Status != corev1.ConditionFalse {
		t.Errorf("deployment conditions = %+v; want Available=False", got.Conditions)
	}
}

func TestReconcileDeploymentTemplateChangeReplacesReplicaSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, cs := newController(t, deployment("web", "dep-web", 2, "nginx:1.25"))
	reconcile(t, c)
	old := replicaSets(t, cs)
	if len(old) != 1 {
		t.Fatalf("got %d replicasets; want 1", len(old))
	}

	d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Annotations = map[string]string{"reachgate.dev/tls-sha256": "feedface"}
	if _, err := cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.reconcileDeployments(ctx); err != nil {
		t.Fatalf("reconcileDeployments: %v", err)
	}
	rss := replicaSets(t, cs)
	if want := "web-" + templateHash(d.Spec.Template); len(rss) != 1 || rss[0].Name != want {
		t.Fatalf("after a template change: got replicasets %v; want only %s", names(rss), want)
	}
	if rss[0].Name == old[0].Name {
		t.Fatalf("replicaset name %q did not change with the template", rss[0].Name)
	}
	if got := rss[0].Spec.Template.Annotations["reachgate.dev/tls-sha256"]; got != "feedface" {
		t.Errorf("new replicaset template annotation = %q; want %q", got, "feedface")
	}

	// The old ReplicaSet's pods go; the new one's take their place.
	if err := c.reconcileReplicaSets(ctx); err != nil {
		t.Fatalf("reconcileReplicaSets: %v", err)
	}
	ps := pods(t, cs)
	checkOwned(t, ps, rss[0], []string{"node-a", "node-b"})
	for _, p := range ps {
		if got := p.Annotations["reachgate.dev/tls-sha256"]; got != "feedface" {
			t.Errorf("pod %s annotation = %q; want %q", p.Name, got, "feedface")
		}
	}
}

func TestReconcileDeploymentDeletedGarbageCollects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, cs := newController(t, deployment("web", "dep-web", 2, "nginx:1.25"), deployment("api", "dep-api", 1, "nginx:1.25"))
	reconcile(t, c)
	if got := replicaSets(t, cs); len(got) != 2 {
		t.Fatalf("got replicasets %v; want 2", names(got))
	}
	if got := pods(t, cs); len(got) != 3 {
		t.Fatalf("got %d pods; want 3", len(got))
	}

	if err := cs.AppsV1().Deployments("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.reconcileDeployments(ctx); err != nil {
		t.Fatalf("reconcileDeployments: %v", err)
	}
	rss := replicaSets(t, cs)
	if len(rss) != 1 || !strings.HasPrefix(rss[0].Name, "api-") {
		t.Fatalf("after deleting web: got replicasets %v; want only api's", names(rss))
	}
	// Pods outlive their ReplicaSet until the ReplicaSet controller's pass.
	if got := pods(t, cs); len(got) != 3 {
		t.Errorf("before the replicaset pass: got %d pods; want 3", len(got))
	}
	if err := c.reconcileReplicaSets(ctx); err != nil {
		t.Fatalf("reconcileReplicaSets: %v", err)
	}
	ps := pods(t, cs)
	if len(ps) != 1 {
		t.Fatalf("after garbage collection: got %d pods; want 1 (api's)", len(ps))
	}
	checkOwned(t, ps, rss[0], []string{ps[0].Spec.NodeName})
}

// Two Deployments in one namespace must not take each other's ReplicaSets for old ones.
func TestReconcileDeploymentsKeepOthersReplicaSets(t *testing.T) {
	t.Parallel()
	c, cs := newController(t, deployment("a", "dep-a", 1, "nginx:1.25"), deployment("b", "dep-b", 1, "nginx:1.25"))
	for range 3 {
		reconcile(t, c)
	}
	rss := replicaSets(t, cs)
	if len(rss) != 2 {
		t.Fatalf("got replicasets %v; want one for a and one for b", names(rss))
	}
	for _, rs := range rss {
		owner := metav1.GetControllerOf(&rs)
		want := types.UID("dep-" + strings.SplitN(rs.Name, "-", 2)[0])
		if owner == nil || owner.UID != want {
			t.Errorf("replicaset %s owner = %+v; want uid %s", rs.Name, owner, want)
		}
	}
	if got := pods(t, cs); len(got) != 2 {
		t.Errorf("got %d pods; want 2", len(got))
	}
}

func TestReconcileDeploymentScales(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, cs := newController(t, deployment("web", "dep-web", 2, "nginx:1.25"))
	reconcile(t, c)
	for _, tt := range []struct {
		replicas int32
		nodes    []string
	}{
		{3, []string{"node-a", "node-a", "node-b"}},
		{1, nil}, // which pod stays is not specified
		{0, nil},
	} {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.Spec.Replicas = &tt.replicas
		if _, err := cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		reconcile(t, c)
		rss := replicaSets(t, cs)
		if len(rss) != 1 || rss[0].Spec.Replicas == nil || *rss[0].Spec.Replicas != tt.replicas {
			t.Fatalf("scaled to %d: got replicasets %v; want one with %d replicas", tt.replicas, names(rss), tt.replicas)
		}
		ps := pods(t, cs)
		if len(ps) != int(tt.replicas) {
			t.Errorf("scaled to %d: got %d pods; want %d", tt.replicas, len(ps), tt.replicas)
		}
		if tt.nodes != nil && len(ps) == len(tt.nodes) {
			checkOwned(t, ps, rss[0], tt.nodes)
		}
	}
}

// The reactor that stands in for the API server's UID assignment must itself work, or the
// tests above would pass for the wrong reason (every owner UID "").
func TestNewControllerAssignsUIDs(t *testing.T) {
	t.Parallel()
	_, cs := newController(t)
	ctx := context.Background()
	var uids []types.UID
	for _, name := range []string{"a", "b"} {
		p, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, p.UID)
	}
	if uids[0] == "" || uids[0] == uids[1] {
		t.Errorf("got UIDs %q; want two distinct non-empty UIDs", uids)
	}
}

func names(rss []appsv1.ReplicaSet) []string {
	var out []string
	for _, rs := range rss {
		out = append(out, rs.Name)
	}
	return out
}
