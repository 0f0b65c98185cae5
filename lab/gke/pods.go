package gke

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"reachgate/lab/netns"
)

// RestartBackoff is how long a dead container stays down before the kubelet restarts it
// (the first step of Kubernetes' CrashLoopBackOff).
const RestartBackoff = 10 * time.Second

// PodNetns is the network namespace of pod namespace/pod in the lab named labName.
func PodNetns(labName, namespace, pod string) string {
	return netns.NamespaceName(labName, "p", namespace+"-"+pod)
}

// PodProcessPrefix begins the process name of each container of pod namespace/pod:
// "pod/<namespace>/<pod>/<container>".
func PodProcessPrefix(namespace, pod string) string {
	return "pod/" + namespace + "/" + pod + "/"
}

func (c *Controller) podNamespace(pod *corev1.Pod) string {
	return PodNetns(c.lab.State.Name, pod.Namespace, pod.Name)
}

func podIfname(pod *corev1.Pod) string {
	h := fnv.New32a()
	h.Write([]byte(pod.UID))
	return fmt.Sprintf("p%08x", h.Sum32())
}

// reconcilePods is the kubelet: it realizes scheduled pods, tears down deleted ones, keeps
// readiness current and restarts dead containers.
func (c *Controller) reconcilePods(ctx context.Context) error {
	pods, err := c.listPods(ctx)
	if err != nil {
		return err
	}
	st := c.state()
	known := map[string]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		ns := c.podNamespace(pod)
		known[ns] = true
		if c.nodeIndex(pod.Spec.NodeName) < 0 {
			continue
		}
		switch {
		case pod.DeletionTimestamp != nil:
			if err := c.teardownPod(ctx, st, pod, ns); err != nil {
				return err
			}
			zero := int64(0)
			if err := c.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		case pod.Status.PodIP == "":
			if err := c.startPod(ctx, st, pod, ns, pods.Items); err != nil {
				c.log.Warn("pod failed to start", "pod", pod.Namespace+"/"+pod.Name, "err", err)
				_ = c.teardownPod(ctx, st, pod, ns)
				// Release the address so the next attempt starts the sandbox afresh.
				pod.Status.PodIP, pod.Status.PodIPs = "", nil
				c.setPodStatus(ctx, pod, corev1.PodPending, "", false, err.Error())
			}
		default:
			c.checkPod(ctx, st, pod, ns)
		}
	}
	// Pod namespaces whose Pod object is gone.
	prefix := netns.NamespaceName(c.lab.State.Name, "p", "")
	for _, ns := range st.Namespaces {
		if strings.HasPrefix(ns, prefix) && !known[ns] {
			c.log.Info("removing pod sandbox without a pod", "namespace", ns)
			if err := st.RemoveNamespace(ctx, ns); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Controller) nodeIndex(name string) int {
	for i, n := range c.nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// allocateIP picks the lowest free address of the node's pod range.
func (c *Controller) allocateIP(node string, pods []corev1.Pod) (netip.Addr, error) {
	cidr, ok := c.lab.Current.Cluster.NodePodCIDR(c.nodeIndex(node))
	if !ok {
		return netip.Addr{}, fmt.Errorf("node %s has no pod range", node)
	}
	used := map[netip.Addr]bool{}
	for _, p := range pods {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			used[a] = true
		}
	}
	for a := cidr.Addr().Next().Next(); cidr.Contains(a); a = a.Next() {
		if !used[a] && a != lastAddr(cidr) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod range %s of node %s is full", cidr, node)
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (c *Controller) startPod(ctx context.Context, st *netns.State, pod *corev1.Pod, ns string, all []corev1.Pod) error {
	ip, err := c.allocateIP(pod.Spec.NodeName, all)
	if err != nil {
		return err
	}
	// Claim the address in the API first, so a restarted controller never reuses it.
	pod.Status.PodIP, pod.Status.PodIPs = ip.String(), []corev1.PodIP{{IP: ip.String()}}
	node := c.lab.Current.Host(pod.Spec.NodeName)
	pod.Status.HostIP = node.IP.String()
	c.setPodStatus(ctx, pod, corev1.PodPending, "ContainerCreating", false, "")
	if err := st.AddPod(ctx, c.lab.Plan.Hosts[pod.Spec.NodeName], ns, podIfname(pod), ip); err != nil {
		return err
	}
	dir := st.Path("pods", pod.Namespace+"_"+pod.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, ctr := range pod.Spec.Containers {
		p, err := c.startContainer(ctx, st, pod, ctr, ns, dir)
		if err != nil {
			return fmt.Errorf("container %s: %w", ctr.Name, err)
		}
		c.log.Info("container started", "pod", pod.Namespace+"/"+pod.Name, "container", ctr.Name, "pid", p.PID, "ip", ip)
	}
	c.setPodStatus(ctx, pod, corev1.PodRunning, "", false, "")
	return nil
}

func (c *Controller) teardownPod(ctx context.Context, st *netns.State, pod *corev1.Pod, ns string) error {
	var stopped []netns.Process
	for _, p := range st.Processes {
		if strings.HasPrefix(p.Name, processName(pod, "")) {
			_ = p.Stop(ctx, 3*time.Second)
			stopped = append(stopped, p)
		}
	}
	if err := st.Forget(stopped, nil); err != nil {
		return err
	}
	return st.RemoveNamespace(ctx, ns)
}

// checkPod updates readiness (process alive and its first port accepting) and restarts a
// container that has been dead for RestartBackoff.
func (c *Controller) checkPod(ctx context.Context, st *netns.State, pod *corev1.Pod, ns string) {
	ready := true
	for _, ctr := range pod.Spec.Containers {
		proc, found := c.process(st, pod, ctr.Name)
		if found && proc.Running() {
			delete(c.deadSince, proc.Name)
			if len(ctr.Ports) > 0 && !portOpen(ctx, pod.Status.PodIP, ctr.Ports[0].ContainerPort) {
				ready = false
			}
			continue
		}
		ready = false
		key := processName(pod, ctr.Name)
		since, seen := c.deadSince[key]
		if !seen {
			c.deadSince[key] = time.Now()
			c.log.Warn("container died", "pod", pod.Namespace+"/"+pod.Name, "container", ctr.Name)
			continue
		}
		if time.Since(since) < RestartBackoff {
			continue
		}
		if found {
			_ = st.Forget([]netns.Process{proc}, nil)
		}
		if p, err := c.startContainer(ctx, st, pod, ctr, ns, st.Path("pods", pod.Namespace+"_"+pod.Name)); err != nil {
			c.log.Warn("container restart failed", "pod", pod.Name, "err", err)
		} else {
			delete(c.deadSince, key)
			c.restarts(pod, ctr.Name)
			c.log.Info("container restarted", "pod", pod.Namespace+"/"+pod.Name, "container", ctr.Name, "pid", p.PID)
		}
	}
	if ready != podReady(pod) {
		c.setPodStatus(ctx, pod, corev1.PodRunning, "", ready, "")
	}
}

func (c *Controller) process(st *netns.State, pod *corev1.Pod, container string) (netns.Process, bool) {
	name := processName(pod, container)
	for i := len(st.Processes) - 1; i >= 0; i-- {
		if st.Processes[i].Name == name {
			return st.Processes[i], true
		}
	}
	return netns.Process{}, false
}

func (c *Controller) restarts(pod *corev1.Pod, container string) {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == container {
			pod.Status.ContainerStatuses[i].RestartCount++
		}
	}
}

func portOpen(ctx context.Context, ip string, port int32) bool {
	d := net.Dialer{Timeout: 300 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// setPodStatus writes phase, conditions and container statuses as a kubelet would.
func (c *Controller) setPodStatus(ctx context.Context, pod *corev1.Pod, phase corev1.PodPhase, waiting string, ready bool, message string) {
	now := metav1.Now()
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		return corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
	}
	pod.Status.Phase = phase
	pod.Status.Message = message
	if pod.Status.StartTime == nil {
		pod.Status.StartTime = &now
	}
	pod.Status.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true), cond(corev1.PodInitialized, true),
		cond(corev1.ContainersReady, ready), cond(corev1.PodReady, ready)}
	old := map[string]int32{}
	for _, cs := range pod.Status.ContainerStatuses {
		old[cs.Name] = cs.RestartCount
	}
	pod.Status.ContainerStatuses = nil
	for _, ctr := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: ctr.Name, Image: ctr.Image, Ready: ready, RestartCount: old[ctr.Name]}
		switch {
		case phase == corev1.PodRunning:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
			started := true
			cs.Started = &started
		default:
			reason := waiting
			if reason == "" {
				reason = "CreateContainerError"
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: message}
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, cs)
	}
	updated, err := c.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			c.log.Warn("update pod status", "pod", pod.Name, "err", err)
		}
		return
	}
	*pod = *updated
}
