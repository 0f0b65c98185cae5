package ilbproxy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
)

func TestParseProxy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Proxy
		wantErr bool
	}{
		{"nginx", Nginx, false},
		{"go", GoL7, false},
		{"go-l7", GoL7, false},
		{"go-l4", GoL4, false},
		{"", "", true},
		{"NGINX", "", true},
		{"go-l5", "", true},
		{"envoy", "", true},
		{" nginx", "", true},
	}
	for _, tt := range tests {
		got, err := ParseProxy(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseProxy(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	// Every listed proxy parses back to itself.
	for _, p := range Proxies {
		if got, err := ParseProxy(string(p)); got != p || err != nil {
			t.Errorf("ParseProxy(%q) = %q, %v; want %q, nil", p, got, err, p)
		}
	}
}

func TestWorkloadFor(t *testing.T) {
	t.Parallel()
	goProxy := workload{name: "reachgate-proxy", configMap: "reachgate-proxy-conf", image: "reachgate.dev/proxy:lab", confKey: "proxy.yaml",
		confPath: "/etc/reachgate/proxy.yaml", certDir: "/etc/reachgate/tls", caDir: "/etc/reachgate/cluster-ca",
		args: []string{"proxy", "--config", "/etc/reachgate/proxy.yaml"}}
	tests := []struct {
		proxy Proxy
		want  workload
	}{
		{Nginx, workload{name: "nginx", configMap: "nginx-conf", image: "nginx", confKey: "nginx.conf",
			confPath: "/etc/nginx/conf.d/nginx.conf", certDir: "/etc/nginx/cert", caDir: "/etc/nginx/cluster-ca"}},
		{GoL7, goProxy},
		{GoL4, goProxy},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, workloadFor(tt.proxy), cmp.AllowUnexported(workload{})); diff != "" {
			t.Errorf("workloadFor(%s) (-want +got):\n%s", tt.proxy, diff)
		}
	}
	// The Go proxy's arguments point at the file its config is mounted as.
	w := workloadFor(GoL7)
	if got := w.args[len(w.args)-1]; got != w.confPath {
		t.Errorf("go proxy --config %q; want the mounted config %q", got, w.confPath)
	}
}

func TestDeployment(t *testing.T) {
	t.Parallel()
	ro := true
	tests := []struct {
		name        string
		proxy       Proxy
		tls, ca     bool
		annotations map[string]string
		wantVolumes []corev1.Volume
		wantMounts  []corev1.VolumeMount
		wantArgs    []string
		wantImage   string
	}{
		{
			name: "nginx with TLS and CA", proxy: Nginx, tls: true, ca: true,
			annotations: map[string]string{"reachgate.dev/tls-sha256": "aa", "reachgate.dev/config-sha256": "bb"},
			wantVolumes: []corev1.Volume{
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "nginx-conf"},
					Items:                []corev1.KeyToPath{{Key: "nginx.conf", Path: "nginx.conf"}}}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nginx-secret-tls"}}},
				{Name: "cluster-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cluster-ca"}}}},
			},
			wantMounts: []corev1.VolumeMount{
				{Name: "conf", MountPath: "/etc/nginx/conf.d/nginx.conf", SubPath: "nginx.conf", ReadOnly: ro},
				{Name: "tls", MountPath: "/etc/nginx/cert", ReadOnly: ro},
				{Name: "cluster-ca", MountPath: "/etc/nginx/cluster-ca", ReadOnly: ro},
			},
			wantImage: "nginx",
		},
		{
			name: "go-l4 without TLS", proxy: GoL4,
			wantVolumes: []corev1.Volume{
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "reachgate-proxy-conf"},
					Items:                []corev1.KeyToPath{{Key: "proxy.yaml", Path: "proxy.yaml"}}}}},
			},
			wantMounts: []corev1.VolumeMount{
				{Name: "conf", MountPath: "/etc/reachgate/proxy.yaml", SubPath: "proxy.yaml", ReadOnly: ro},
			},
			wantArgs:  []string{"proxy", "--config", "/etc/reachgate/proxy.yaml"},
			wantImage: "reachgate.dev/proxy:lab",
		},
		{
			name: "go-l7 with TLS and CA", proxy: GoL7, tls: true, ca: true,
			wantVolumes: []corev1.Volume{
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "reachgate-proxy-conf"},
					Items:                []corev1.KeyToPath{{Key: "proxy.yaml", Path: "proxy.yaml"}}}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nginx-secret-tls"}}},
				{Name: "cluster-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cluster-ca"}}}},
			},
			wantMounts: []corev1.VolumeMount{
				{Name: "conf", MountPath: "/etc/reachgate/proxy.yaml", SubPath: "proxy.yaml", ReadOnly: ro},
				{Name: "tls", MountPath: "/etc/reachgate/tls", ReadOnly: ro},
				{Name: "cluster-ca", MountPath: "/etc/reachgate/cluster-ca", ReadOnly: ro},
			},
			wantArgs:  []string{"proxy", "--config", "/etc/reachgate/proxy.yaml"},
			wantImage: "reachgate.dev/proxy:lab",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := workloadFor(tt.proxy)
			d := w.deployment("edge", 3, tt.tls, tt.ca, tt.annotations)
			if d.Name != w.name || d.Namespace != "edge" {
				t.Errorf("deployment %s/%s; want edge/%s", d.Namespace, d.Name, w.name)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
				t.Errorf("replicas = %v; want 3", d.Spec.Replicas)
			}
			app := map[string]string{"app": w.name}
			if diff := cmp.Diff(app, d.Spec.Selector.MatchLabels); diff != "" {
				t.Errorf("selector (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(app, d.Spec.Template.Labels); diff != "" {
				t.Errorf("template labels (-want +got):\n%s", diff)
			}
			if got := d.Labels["app.kubernetes.io/managed-by"]; got != "reachgate" {
				t.Errorf("deployment label managed-by = %q; want reachgate", got)
			}
			if diff := cmp.Diff(tt.annotations, d.Spec.Template.Annotations); diff != "" {
				t.Errorf("template annotations (-want +got):\n%s", diff)
			}
			if d.Annotations != nil {
				t.Errorf("deployment annotations = %v; want none (they belong on the pod template)", d.Annotations)
			}
			if diff := cmp.Diff(tt.wantVolumes, d.Spec.Template.Spec.Volumes); diff != "" {
				t.Errorf("volumes (-want +got):\n%s", diff)
			}
			ctrs := d.Spec.Template.Spec.Containers
			if len(ctrs) != 1 {
				t.Fatalf("got %d containers; want 1", len(ctrs))
			}
			c := ctrs[0]
			if diff := cmp.Diff(tt.wantMounts, c.VolumeMounts); diff != "" {
				t.Errorf("volume mounts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantArgs, c.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if c.Image != tt.wantImage {
				t.Errorf("image = %q; want %q", c.Image, tt.wantImage)
			}
			wantPorts := []corev1.ContainerPort{{Name: "https", ContainerPort: 443, Protocol: corev1.ProtocolTCP}}
			if diff := cmp.Diff(wantPorts, c.Ports); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.TCPSocket == nil || c.ReadinessProbe.TCPSocket.Port != intstr.FromInt32(443) {
				t.Errorf("readiness probe = %+v; want TCP 443", c.ReadinessProbe)
			}
		})
	}
}

func TestService(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		proxy        Proxy
		globalAccess bool
		wantAnn      map[string]string
	}{
		{"nginx, regional", Nginx, false, map[string]string{"networking.gke.io/load-balancer-type": "Internal"}},
		{"go proxy, global access", GoL7, true, map[string]string{"networking.gke.io/load-balancer-type": "Internal",
			"networking.gke.io/internal-load-balancer-allow-global-access": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := workloadFor(tt.proxy)
			s := w.service("edge", "10.128.0.28", tt.globalAccess)
			if diff := cmp.Diff(tt.wantAnn, s.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if s.Name != w.name || s.Namespace != "edge" {
				t.Errorf("service %s/%s; want edge/%s", s.Namespace, s.Name, w.name)
			}
			if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
				t.Errorf("type = %q; want LoadBalancer", s.Spec.Type)
			}
			if s.Spec.LoadBalancerIP != "10.128.0.28" {
				t.Errorf("loadBalancerIP = %q; want 10.128.0.28", s.Spec.LoadBalancerIP)
			}
			if diff := cmp.Diff(map[string]string{"app": w.name}, s.Spec.Selector); diff != "" {
				t.Errorf("selector (-want +got):\n%s", diff)
			}
			// A passthrough load balancer keeps the port: targetPort must equal port.
			wantPorts := []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(443), Protocol: corev1.ProtocolTCP}}
			if diff := cmp.Diff(wantPorts, s.Spec.Ports); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetaCopiesLabels(t *testing.T) {
	t.Parallel()
	m := meta("x", "ns", map[string]string{"app": "nginx"})
	m.Labels["mutated"] = "yes"
	want := map[string]string{"app.kubernetes.io/managed-by": "reachgate", "reachgate.dev/solution": "ilb-proxy"}
	if diff := cmp.Diff(want, managed); diff != "" {
		t.Errorf("meta shares its labels with the package's managed map (-want +got):\n%s", diff)
	}
	if got := meta("y", "ns", nil).Labels; cmp.Diff(want, got) != "" {
		t.Errorf("meta labels = %v; want %v", got, want)
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewSimpleClientset()
	cms := cs.CoreV1().ConfigMaps("edge")
	first := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: "edge"}, Data: map[string]string{"k": "v1"}}
	if err := apply(ctx, cms, first); err != nil {
		t.Fatalf("apply (create): %v", err)
	}
	second := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: "edge"}, Data: map[string]string{"k": "v2"}}
	if err := apply(ctx, cms, second); err != nil {
		t.Fatalf("apply (update): %v", err)
	}
	got, err := cms.Get(ctx, "conf", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"k": "v2"}, got.Data); diff != "" {
		t.Errorf("data after the second apply (-want +got):\n%s", diff)
	}
}
