package gke

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reconcileReplicaSets creates and deletes pods to match each ReplicaSet, schedules new pods
// on the least-loaded node, garbage-collects pods whose ReplicaSet is gone, and writes status.
func (c *Controller) reconcileReplicaSets(ctx context.Context) error {
	rss, err := c.cs.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := c.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	load := map[string]int{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			load[p.Spec.NodeName]++
		}
	}
	for i := range rss.Items {
		rs := &rss.Items[i]
		var mine []*corev1.Pod
		for j := range pods.Items {
			p := &pods.Items[j]
			if p.Namespace == rs.Namespace && p.DeletionTimestamp == nil && ownedBy(p, string(rs.UID)) {
				mine = append(mine, p)
			}
		}
		want := 1
		if rs.Spec.Replicas != nil {
			want = int(*rs.Spec.Replicas)
		}
		for n := len(mine); n < want && len(c.nodes) > 0; n++ {
			node := c.leastLoaded(load)
			load[node]++
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: rs.Name + "-" + suffix(5), Namespace: rs.Namespace,
					Labels: rs.Spec.Template.Labels, Annotations: rs.Spec.Template.Annotations,
					OwnerReferences: []metav1.OwnerReference{controllerRef("ReplicaSet", rs)}},
				Spec: *rs.Spec.Template.Spec.DeepCopy(),
			}
			pod.Spec.NodeName = node
			if _, err := c.cs.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create pod for %s: %w", rs.Name, err)
			}
			c.log.Info("pod scheduled", "pod", pod.Namespace+"/"+pod.Name, "node", node)
		}
		for n := len(mine); n > want; n-- {
			p := mine[n-1]
			if err := c.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		if err := c.writeReplicaSetStatus(ctx, rs, mine); err != nil {
			return err
		}
	}
	// Garbage collection: pods whose owning ReplicaSet no longer exists.
	for j := range pods.Items {
		p := &pods.Items[j]
		owner := metav1.GetControllerOf(p)
		if owner == nil || owner.Kind != "ReplicaSet" || p.DeletionTimestamp != nil || replicaSetExists(rss.Items, string(owner.UID)) {
			continue
		}
		if err := c.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func (c *Controller) writeReplicaSetStatus(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	ready := int32(0)
	for _, p := range pods {
		if podReady(p) {
			ready++
		}
	}
	st := appsv1.ReplicaSetStatus{Replicas: int32(len(pods)), ReadyReplicas: ready, AvailableReplicas: ready,
		FullyLabeledReplicas: int32(len(pods)), ObservedGeneration: rs.Generation}
	if rs.Status.Replicas == st.Replicas && rs.Status.ReadyReplicas == st.ReadyReplicas && rs.Status.ObservedGeneration == st.ObservedGeneration {
		return nil
	}
	rs.Status = st
	if _, err := c.cs.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (c *Controller) leastLoaded(load map[string]int) string {
	best := c.nodes[0].Name
	for _, n := range c.nodes {
		if load[n.Name] < load[best] {
			best = n.Name
		}
	}
	return best
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func replicaSetExists(rss []appsv1.ReplicaSet, uid string) bool {
	for _, rs := range rss {
		if string(rs.UID) == uid {
			return true
		}
	}
	return false
}
