package gke

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"reachgate/lab/lb"
	"reachgate/lab/netns"
)

// Annotations GKE reads on a LoadBalancer Service.
const (
	AnnotationLBType       = "networking.gke.io/load-balancer-type"
	AnnotationLBTypeLegacy = "cloud.google.com/load-balancer-type"
	AnnotationGlobalAccess = "networking.gke.io/internal-load-balancer-allow-global-access"
)

// internalLB reports whether a Service asks GKE for an internal passthrough load balancer.
func internalLB(s *corev1.Service) bool {
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	return strings.EqualFold(s.Annotations[AnnotationLBType], "Internal") || strings.EqualFold(s.Annotations[AnnotationLBTypeLegacy], "Internal")
}

func lbName(s *corev1.Service) string { return s.Namespace + "-" + s.Name }

func lbProcessName(s *corev1.Service) string { return "ilb/" + s.Namespace + "/" + s.Name }

// reconcileServices is GKE's service controller for internal LoadBalancer Services: a VIP in
// the cluster's subnet (spec.loadBalancerIP when set) forwarding to the ready pods the
// selector picks, kept by a health-checker process in the VPC's router namespace.
func (c *Controller) reconcileServices(ctx context.Context) error {
	svcs, err := c.listServices(ctx)
	if err != nil {
		return err
	}
	pods, err := c.listPods(ctx)
	if err != nil {
		return err
	}
	st := c.state()
	want := map[string]bool{}
	taken := map[netip.Addr]bool{}
	// The first Service to claim an address keeps it.
	sort.SliceStable(svcs.Items, func(i, j int) bool {
		return svcs.Items[i].CreationTimestamp.Before(&svcs.Items[j].CreationTimestamp)
	})
	for _, s := range svcs.Items {
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				taken[a] = true
			}
		}
	}
	claims := map[string]string{}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		if !internalLB(s) {
			continue
		}
		if other, clash := claimed(claims, s); clash {
			c.log.Warn("internal load balancer not created: its address and port are in use, as GCP refuses a second forwarding rule for them",
				"service", s.Namespace+"/"+s.Name, "address", s.Spec.LoadBalancerIP, "in use by", other)
			continue
		}
		want[lbProcessName(s)] = true
		if err := c.realizeLB(ctx, st, s, pods.Items, taken); err != nil {
			c.log.Warn("internal load balancer", "service", s.Namespace+"/"+s.Name, "err", err)
		}
	}
	var stopped []netns.Process
	for _, p := range st.Processes {
		if strings.HasPrefix(p.Name, "ilb/") && !want[p.Name] {
			_ = p.Stop(ctx, 3*time.Second)
			if ns, name, ok := strings.Cut(strings.TrimPrefix(p.Name, "ilb/"), "/"); ok {
				_ = os.Remove(st.Path("ilb", ns+"-"+name+".json"))
			}
			stopped = append(stopped, p)
			c.log.Info("internal load balancer removed", "lb", p.Name)
		}
	}
	if len(stopped) > 0 {
		return st.Forget(stopped, nil)
	}
	return nil
}

func (c *Controller) realizeLB(ctx context.Context, st *netns.State, s *corev1.Service, pods []corev1.Pod, taken map[netip.Addr]bool) error {
	vip, err := c.lbAddress(s, taken)
	if err != nil {
		return err
	}
	var ports []int
	for _, p := range s.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			return fmt.Errorf("port %d: the lab forwards TCP only", p.Port)
		}
		if p.TargetPort.IntValue() != 0 && p.TargetPort.IntValue() != int(p.Port) {
			return fmt.Errorf("port %d: a passthrough load balancer keeps the port; targetPort %s differs", p.Port, p.TargetPort.String())
		}
		ports = append(ports, int(p.Port))
	}
	spec := lb.Spec{Name: lbName(s), VIP: vip.String(), Ports: ports, Admit: c.admitted(s)}
	if len(s.Spec.Selector) == 0 {
		// No selector (default/kubernetes patched to LoadBalancer, as the article's step 1
		// does): GKE sends the traffic to nodes, whose kube-proxy forwards it to the
		// endpoints with the node as source. The lab forwards to the endpoints from the
		// VPC's gateway address, which the endpoints' network can answer.
		if spec.Backends, err = c.endpointAddresses(ctx, s); err != nil {
			return err
		}
		cl := c.lab.Current.Cluster
		spec.SNAT = c.lab.Plan.Gateways[cl.VPC+"/"+cl.Subnet].String()
	} else {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		for i := range pods {
			p := &pods[i]
			if p.Namespace == s.Namespace && p.DeletionTimestamp == nil && p.Status.PodIP != "" && sel.Matches(labels.Set(p.Labels)) {
				spec.Backends = append(spec.Backends, p.Status.PodIP)
			}
		}
	}
	slices.Sort(spec.Backends)
	path := st.Path("ilb", lbName(s)+".json")
	if old, err := lb.LoadSpec(path); err != nil || !sameSpec(old, spec) {
		if err := os.MkdirAll(st.Path("ilb"), 0o700); err != nil {
			return err
		}
		if err := lb.WriteSpec(path, spec); err != nil {
			return err
		}
		for _, p := range st.Processes {
			if p.Name == lbProcessName(s) && p.Running() {
				_ = syscall.Kill(p.PID, syscall.SIGHUP)
			}
		}
		c.log.Info("internal load balancer configured", "service", s.Namespace+"/"+s.Name, "vip", vip, "ports", ports, "backends", spec.Backends)
	}
	running := false
	for _, p := range st.Processes {
		running = running || (p.Name == lbProcessName(s) && p.Running())
	}
	if !running {
		if _, err := st.Start(netns.StartSpec{Name: lbProcessName(s), Namespace: c.lab.Plan.Routers[c.lab.Current.Cluster.VPC],
			Path: c.self, Args: []string{"ilb", "--spec", path}}); err != nil {
			return err
		}
	}
	if len(s.Status.LoadBalancer.Ingress) != 1 || s.Status.LoadBalancer.Ingress[0].IP != vip.String() {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: vip.String()}}
		if _, err := c.cs.CoreV1().Services(s.Namespace).UpdateStatus(ctx, s, metav1.UpdateOptions{}); err != nil {
			return err
		}
		taken[vip] = true
	}
	return nil
}

func sameSpec(a, b lb.Spec) bool {
	return a.Name == b.Name && a.VIP == b.VIP && a.SNAT == b.SNAT && slices.Equal(a.Ports, b.Ports) &&
		slices.Equal(a.Backends, b.Backends) && slices.Equal(a.Admit, b.Admit)
}

// admitted returns the client ranges an internal LB for s accepts. GCP: the forwarding rule
// is regional (the cluster subnet's region) and admits clients that enter the VPC in that
// region, unless the Service asks for global access.
func (c *Controller) admitted(s *corev1.Service) []string {
	t := c.lab.Current
	cl := t.Cluster
	region := t.Network(cl.VPC).Subnet(cl.Subnet).Region
	global := strings.EqualFold(s.Annotations[AnnotationGlobalAccess], "true")
	var out []string
	for _, p := range c.lab.Model.ILBSources(cl.VPC, region, global) {
		out = append(out, p.String())
	}
	return out
}

// endpointAddresses lists the ready endpoint addresses of a Service without a selector.
func (c *Controller) endpointAddresses(ctx context.Context, s *corev1.Service) ([]string, error) {
	slices, err := c.cs.DiscoveryV1().EndpointSlices(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + s.Name})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				out = append(out, ep.Addresses...)
			}
		}
	}
	return out, nil
}

// lbAddress is spec.loadBalancerIP (which must lie in a subnet of the cluster's VPC) or the
// highest free address of the cluster's node subnet.
func (c *Controller) lbAddress(s *corev1.Service, taken map[netip.Addr]bool) (netip.Addr, error) {
	cl := c.lab.Current.Cluster
	vpc := c.lab.Current.Network(cl.VPC)
	if want := s.Spec.LoadBalancerIP; want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("loadBalancerIP %q is not an IP address", want)
		}
		for _, sn := range vpc.Subnets {
			if sn.CIDR.Contains(a) {
				return a, nil
			}
		}
		return netip.Addr{}, fmt.Errorf("loadBalancerIP %s is in no subnet of VPC %s: an internal load balancer address must come from the cluster's VPC", a, vpc.Name)
	}
	if len(s.Status.LoadBalancer.Ingress) == 1 {
		if a, err := netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP); err == nil {
			return a, nil
		}
	}
	subnet := vpc.Subnet(cl.Subnet)
	hosts := map[netip.Addr]bool{}
	for _, h := range c.lab.Current.Hosts {
		hosts[h.IP] = true
	}
	for a := lastAddr(subnet.CIDR).Prev().Prev(); subnet.CIDR.Contains(a); a = a.Prev() {
		if !taken[a] && !hosts[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s has no free address", subnet.CIDR)
}

// claimed records the service's requested address and ports in claims and reports a clash
// with an earlier service (oldest first: the list is sorted by name, so sort by creation).
func claimed(claims map[string]string, s *corev1.Service) (string, bool) {
	if s.Spec.LoadBalancerIP == "" {
		return "", false
	}
	me := s.Namespace + "/" + s.Name
	for _, p := range s.Spec.Ports {
		key := fmt.Sprintf("%s:%d", s.Spec.LoadBalancerIP, p.Port)
		if other, ok := claims[key]; ok && other != me {
			return other, true
		}
	}
	for _, p := range s.Spec.Ports {
		claims[fmt.Sprintf("%s:%d", s.Spec.LoadBalancerIP, p.Port)] = me
	}
	return "", false
}
