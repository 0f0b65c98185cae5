package gke

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// templateHash names a ReplicaSet after its pod template, like the Deployment controller.
func templateHash(t corev1.PodTemplateSpec) string {
	data, _ := json.Marshal(t)
	h := fnv.New32a()
	h.Write(data)
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	v := h.Sum32()
	out := make([]byte, 10)
	for i := range out {
		out[i] = alphabet[v%uint32(len(alphabet))]
		v = v/uint32(len(alphabet)) + uint32(i)*2654435761
	}
	return string(out)
}

func suffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(out)
}

func ownedBy(obj metav1.Object, uid string) bool {
	for _, o := range obj.GetOwnerReferences() {
		if string(o.UID) == uid {
			return true
		}
	}
	return false
}

func controllerRef(kind string, obj metav1.Object) metav1.OwnerReference {
	t := true
	apiVersion := "apps/v1"
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), UID: obj.GetUID(), Controller: &t, BlockOwnerDeletion: &t}
}

// reconcileDeployments keeps one ReplicaSet per Deployment (its current template), deletes
// ReplicaSets whose Deployment is gone (garbage collection) and writes Deployment status.
func (c *Controller) reconcileDeployments(ctx context.Context) error {
	deps, err := c.cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	rss, err := c.cs.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		hash := templateHash(d.Spec.Template)
		name := d.Name + "-" + hash
		var current *appsv1.ReplicaSet
		for j := range rss.Items {
			rs := &rss.Items[j]
			if rs.Namespace != d.Namespace || !ownedBy(rs, string(d.UID)) {
				continue
			}
			if rs.Name == name {
				current = rs
				continue
			}
			// An old template: roll it away at once (the lab does not stage rollouts).
			if err := c.cs.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		if current == nil {
			tmpl := *d.Spec.Template.DeepCopy()
			if tmpl.Labels == nil {
				tmpl.Labels = map[string]string{}
			}
			tmpl.Labels["pod-template-hash"] = hash
			sel := d.Spec.Selector.DeepCopy()
			if sel.MatchLabels == nil {
				sel.MatchLabels = map[string]string{}
			}
			sel.MatchLabels["pod-template-hash"] = hash
			rs := &appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, Labels: tmpl.Labels,
					OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", d)}},
				Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl},
			}
			created, err := c.cs.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // created by an earlier pass this list missed; status next pass
			}
			if err != nil {
				return fmt.Errorf("create replicaset %s: %w", name, err)
			}
			current = created
			c.log.Info("replicaset created", "deployment", d.Namespace+"/"+d.Name, "replicaset", name)
		} else if current.Spec.Replicas == nil || *current.Spec.Replicas != replicas {
			current.Spec.Replicas = &replicas
			if current, err = c.cs.AppsV1().ReplicaSets(d.Namespace).Update(ctx, current, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		if current == nil {
			continue
		}
		st := appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: current.Status.Replicas, UpdatedReplicas: current.Status.Replicas,
			ReadyReplicas: current.Status.ReadyReplicas, AvailableReplicas: current.Status.AvailableReplicas,
			UnavailableReplicas: max(0, replicas-current.Status.AvailableReplicas),
		}
		avail := corev1.ConditionFalse
		if st.AvailableReplicas >= replicas {
			avail = corev1.ConditionTrue
		}
		st.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: avail, Reason: "MinimumReplicasAvailable",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		if statusChanged(d.Status, st) {
			d.Status = st
			if _, err := c.cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				return err
			}
		}
	}
	// Garbage collection: ReplicaSets whose owning Deployment no longer exists.
	for j := range rss.Items {
		rs := &rss.Items[j]
		if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" && !deploymentExists(deps.Items, string(owner.UID)) {
			if err := c.cs.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

func statusChanged(a, b appsv1.DeploymentStatus) bool {
	return a.Replicas != b.Replicas || a.ReadyReplicas != b.ReadyReplicas || a.AvailableReplicas != b.AvailableReplicas ||
		a.ObservedGeneration != b.ObservedGeneration || a.UpdatedReplicas != b.UpdatedReplicas || len(a.Conditions) == 0
}

func deploymentExists(deps []appsv1.Deployment, uid string) bool {
	for _, d := range deps {
		if string(d.UID) == uid {
			return true
		}
	}
	return false
}
