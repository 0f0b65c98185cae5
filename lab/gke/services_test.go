package gke

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestInternalLB(t *testing.T) {
	t.Parallel()
	lbType := func(typ corev1.ServiceType, ann map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default", Annotations: ann}, Spec: corev1.ServiceSpec{Type: typ}}
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want bool
	}{
		{"networking.gke.io annotation", lbType(corev1.ServiceTypeLoadBalancer, map[string]string{AnnotationLBType: "Internal"}), true},
		{"legacy cloud.google.com annotation", lbType(corev1.ServiceTypeLoadBalancer, map[string]string{AnnotationLBTypeLegacy: "Internal"}), true},
		{"lower case", lbType(corev1.ServiceTypeLoadBalancer, map[string]string{AnnotationLBType: "internal"}), true},
		{"upper case legacy", lbType(corev1.ServiceTypeLoadBalancer, map[string]string{AnnotationLBTypeLegacy: "INTERNAL"}), true},
		{"external value", lbType(corev1.ServiceTypeLoadBalancer, map[string]string{AnnotationLBType: "External"}), false},
		{"no annotation", lbType(corev1.ServiceTypeLoadBalancer, nil), false},
		{"global access alone", lbType(corev1.ServiceTypeLoadBalancer, map[string]string{AnnotationGlobalAccess: "true"}), false},
		{"ClusterIP with annotation", lbType(corev1.ServiceTypeClusterIP, map[string]string{AnnotationLBType: "Internal"}), false},
		{"NodePort with annotation", lbType(corev1.ServiceTypeNodePort, map[string]string{AnnotationLBType: "Internal"}), false},
		{"empty type with annotation", lbType("", map[string]string{AnnotationLBTypeLegacy: "Internal"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := internalLB(tt.svc); got != tt.want {
				t.Errorf("internalLB(type %q, annotations %v) = %v; want %v", tt.svc.Spec.Type, tt.svc.Annotations, got, tt.want)
			}
		})
	}
}

func lbService(ns, name, ip string, ports ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: ip}}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: p})
	}
	return s
}

func TestClaimed(t *testing.T) {
	t.Parallel()
	type step struct {
		svc       *corev1.Service
		wantOther string
		wantClash bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"same address and port clash", []step{
			{lbService("default", "nginx", "10.128.0.28", 443), "", false},
			{lbService("default", "reachgate-proxy", "10.128.0.28", 443), "default/nginx", true},
		}},
		{"clash on one of several ports", []step{
			{lbService("default", "a", "10.128.0.28", 80, 443), "", false},
			{lbService("other", "b", "10.128.0.28", 8443, 443), "default/a", true},
		}},
		{"different ports do not clash", []step{
			{lbService("default", "a", "10.128.0.28", 443), "", false},
			{lbService("default", "b", "10.128.0.28", 8443), "", false},
		}},
		{"different addresses do not clash", []step{
			{lbService("default", "a", "10.128.0.28", 443), "", false},
			{lbService("default", "b", "10.128.0.29", 443), "", false},
		}},
		{"no loadBalancerIP never clashes", []step{
			{lbService("default", "a", "", 443), "", false},
			{lbService("default", "b", "", 443), "", false},
			{lbService("default", "c", "10.128.0.28", 443), "", false},
			{lbService("default", "d", "", 443), "", false},
		}},
		{"same service twice does not clash with itself", []step{
			{lbService("default", "nginx", "10.128.0.28", 443), "", false},
			{lbService("default", "nginx", "10.128.0.28", 443), "", false},
		}},
		{"same name in another namespace clashes", []step{
			{lbService("a", "nginx", "10.128.0.28", 443), "", false},
			{lbService("b", "nginx", "10.128.0.28", 443), "a/nginx", true},
		}},
		{"the first claimant keeps the address", []step{
			{lbService("default", "a", "10.128.0.28", 443), "", false},
			{lbService("default", "b", "10.128.0.28", 443), "default/a", true},
			{lbService("default", "c", "10.128.0.28", 443), "default/a", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims := map[string]string{}
			for i, s := range tt.steps {
				other, clash := claimed(claims, s.svc)
				if other != s.wantOther || clash != s.wantClash {
					t.Errorf("step %d (%s/%s): claimed = %q, %v; want %q, %v", i, s.svc.Namespace, s.svc.Name, other, clash, s.wantOther, s.wantClash)
				}
			}
		})
	}
}

func TestLastAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		want   string
	}{
		{"10.128.0.0/20", "10.128.15.255"},
		{"10.36.0.0/24", "10.36.0.255"},
		{"10.36.1.0/24", "10.36.1.255"},
		{"192.168.32.32/28", "192.168.32.47"},
		{"10.0.0.0/8", "10.255.255.255"},
		{"10.1.2.3/32", "10.1.2.3"},
		{"0.0.0.0/0", "255.255.255.255"},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		if got := lastAddr(p); got != netip.MustParseAddr(tt.want) {
			t.Errorf("lastAddr(%s) = %s; want %s", p, got, tt.want)
		}
	}
}
