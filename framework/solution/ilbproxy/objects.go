package ilbproxy

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Object names, as the article's script names them (nginx) or reachgate's own.
const (
	SecretTLS       = "nginx-secret-tls"
	ConfigMapCA     = "cluster-ca"
	AddressName     = "nginx-static-ilb-ip"
	ServiceAccount  = "reachgate-tp-vm"
	ClusterRoleName = "reachgate-node-reader"
)

// workload names the objects of one proxy implementation.
type workload struct {
	name      string // Deployment, Service and app label
	configMap string
	image     string
	confKey   string // ConfigMap key holding the proxy config
	confPath  string // where the container sees it
	certDir   string
	caDir     string
	args      []string
}

func workloadFor(p Proxy) workload {
	if p == Nginx {
		return workload{name: "nginx", configMap: "nginx-conf", image: "nginx", confKey: "nginx.conf",
			confPath: "/etc/nginx/conf.d/nginx.conf", certDir: "/etc/nginx/cert", caDir: "/etc/nginx/cluster-ca"}
	}
	return workload{name: "reachgate-proxy", configMap: "reachgate-proxy-conf", image: "reachgate.dev/proxy:lab", confKey: "proxy.yaml",
		confPath: "/etc/reachgate/proxy.yaml", certDir: "/etc/reachgate/tls", caDir: "/etc/reachgate/cluster-ca",
		args: []string{"proxy", "--config", "/etc/reachgate/proxy.yaml"}}
}

var managed = map[string]string{"app.kubernetes.io/managed-by": "reachgate", "reachgate.dev/solution": "ilb-proxy"}

func meta(name, ns string, extra map[string]string) metav1.ObjectMeta {
	labels := map[string]string{}
	for k, v := range managed {
		labels[k] = v
	}
	for k, v := range extra {
		labels[k] = v
	}
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
}

// deployment is the proxy Deployment: 2 replicas, config and certificates mounted read-only.
func (w workload) deployment(ns string, replicas int32, withTLS, withCA bool, annotations map[string]string) *appsv1.Deployment {
	app := map[string]string{"app": w.name}
	vols := []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: w.configMap},
		Items:                []corev1.KeyToPath{{Key: w.confKey, Path: w.confKey}}}}}}
	mounts := []corev1.VolumeMount{{Name: "conf", MountPath: w.confPath, SubPath: w.confKey, ReadOnly: true}}
	if withTLS {
		vols = append(vols, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: SecretTLS}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "tls", MountPath: w.certDir, ReadOnly: true})
	}
	if withCA {
		vols = append(vols, corev1.Volume{Name: "cluster-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapCA}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "cluster-ca", MountPath: w.caDir, ReadOnly: true})
	}
	return &appsv1.Deployment{
		ObjectMeta: meta(w.name, ns, app),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: app, Annotations: annotations},
				Spec: corev1.PodSpec{
					Volumes: vols,
					Containers: []corev1.Container{{
						Name: w.name, Image: w.image, Args: w.args, VolumeMounts: mounts,
						Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 443, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(443)}},
							PeriodSeconds: 2},
					}},
				},
			},
		},
	}
}

// service is the internal passthrough load balancer in front of the proxies.
func (w workload) service(ns, address string, globalAccess bool) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: meta(w.name, ns, map[string]string{"app": w.name}),
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			LoadBalancerIP: address,
			Selector:       map[string]string{"app": w.name},
			Ports:          []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(443), Protocol: corev1.ProtocolTCP}},
		},
	}
	s.Annotations = map[string]string{"networking.gke.io/load-balancer-type": "Internal"}
	if globalAccess {
		s.Annotations["networking.gke.io/internal-load-balancer-allow-global-access"] = "true"
	}
	return s
}
