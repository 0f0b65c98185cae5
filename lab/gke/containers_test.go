package gke

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"reachgate/lab/netns"
)

func TestImageKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		image string
		want  string
	}{
		{"nginx", "nginx"},
		{"nginx:1.25", "nginx"},
		{"docker.io/library/nginx:latest", "nginx"},
		{"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "nginx"},
		{"nginx:1.25@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "nginx"},
		{"localhost:5000/nginx", "nginx"},
		{"reachgate.dev/proxy", "proxy"},
		{"reachgate.dev/proxy:lab", "proxy"},
		{"ghcr.io/x/reachgate-proxy:v1", "proxy"},
		{"busybox", ""},
		{"nginx-unprivileged", ""},
		{"example.com/proxy:lab", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := imageKind(tt.image); got != tt.want {
			t.Errorf("imageKind(%q) = %q; want %q", tt.image, got, tt.want)
		}
	}
}

func TestKeyFor(t *testing.T) {
	t.Parallel()
	items := []corev1.KeyToPath{{Key: "nginx.conf", Path: "default.conf"}, {Key: "tls.crt", Path: "certs/server.crt"}}
	tests := []struct {
		name  string
		items []corev1.KeyToPath
		path  string
		want  string
	}{
		{"renamed", items, "default.conf", "nginx.conf"},
		{"renamed into a directory", items, "certs/server.crt", "tls.crt"},
		{"not among the items", items, "other", "other"},
		{"no items", nil, "nginx.conf", "nginx.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := keyFor(tt.items, tt.path); got != tt.want {
				t.Errorf("keyFor(%v, %q) = %q; want %q", tt.items, tt.path, got, tt.want)
			}
		})
	}
}

func configMapVolume(name, cm string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Items: items}}}
}

func secretVolume(name, secret string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret, Items: items}}}
}

func TestContainerFiles(t *testing.T) {
	t.Parallel()
	cs := fake.NewSimpleClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nginx-conf", Namespace: "web"},
			Data:       map[string]string{"nginx.conf": "server {}", "mime.types": "types {}"},
			BinaryData: map[string][]byte{"blob": {0, 1, 2}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "web"},
			Data: map[string][]byte{"tls.crt": []byte("CERT"), "tls.key": []byte("KEY")}},
		// Same names in another namespace: the pod's namespace must be the one read.
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nginx-conf", Namespace: "other"},
			Data: map[string]string{"nginx.conf": "WRONG NAMESPACE"}},
	)
	c := &Controller{cs: cs, log: slog.New(slog.DiscardHandler)}
	projected := corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}
	const cmMode, secretMode = os.FileMode(0o644), os.FileMode(0o600)

	tests := []struct {
		name    string
		volumes []corev1.Volume
		mounts  []corev1.VolumeMount
		want    []file
		wantErr string // substring; empty means success
	}{
		{
			name:    "subPath",
			volumes: []corev1.Volume{configMapVolume("conf", "nginx-conf", corev1.KeyToPath{Key: "nginx.conf", Path: "nginx.conf"})},
			mounts:  []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/nginx/conf.d/nginx.conf", SubPath: "nginx.conf"}},
			want:    []file{{Path: "/etc/nginx/conf.d/nginx.conf", Data: []byte("server {}"), Mode: cmMode}},
		},
		{
			name:    "subPath of a renamed item",
			volumes: []corev1.Volume{configMapVolume("conf", "nginx-conf", corev1.KeyToPath{Key: "nginx.conf", Path: "default.conf"})},
			mounts:  []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/nginx/conf.d/default.conf", SubPath: "default.conf"}},
			want:    []file{{Path: "/etc/nginx/conf.d/default.conf", Data: []byte("server {}"), Mode: cmMode}},
		},
		{
			name: "items with renamed paths",
			volumes: []corev1.Volume{secretVolume("tls", "tls",
				corev1.KeyToPath{Key: "tls.crt", Path: "server.pem"}, corev1.KeyToPath{Key: "tls.key", Path: "private/server.key"})},
			mounts: []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/certs"}},
			want: []file{
				{Path: "/etc/certs/private/server.key", Data: []byte("KEY"), Mode: secretMode},
				{Path: "/etc/certs/server.pem", Data: []byte("CERT"), Mode: secretMode},
			},
		},
		{
			name:    "whole secret volume",
			volumes: []corev1.Volume{secretVolume("tls", "tls")},
			mounts:  []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/nginx/cert"}},
			want: []file{
				{Path: "/etc/nginx/cert/tls.crt", Data: []byte("CERT"), Mode: secretMode},
				{Path: "/etc/nginx/cert/tls.key", Data: []byte("KEY"), Mode: secretMode},
			},
		},
		{
			name:    "whole configmap volume includes binaryData",
			volumes: []corev1.Volume{configMapVolume("conf", "nginx-conf")},
			mounts:  []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/nginx"}},
			want: []file{
				{Path: "/etc/nginx/blob", Data: []byte{0, 1, 2}, Mode: cmMode},
				{Path: "/etc/nginx/mime.types", Data: []byte("types {}"), Mode: cmMode},
				{Path: "/etc/nginx/nginx.conf", Data: []byte("server {}"), Mode: cmMode},
			},
		},
		{
			name:    "projected volume skipped",
			volumes: []corev1.Volume{projected, secretVolume("tls", "tls", corev1.KeyToPath{Key: "tls.crt", Path: "tls.crt"})},
			mounts: []corev1.VolumeMount{
				{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"},
				{Name: "tls", MountPath: "/cert"},
			},
			want: []file{{Path: "/cert/tls.crt", Data: []byte("CERT"), Mode: secretMode}},
		},
		{
			name:    "no mounts",
			volumes: []corev1.Volume{secretVolume("tls", "tls")},
			want:    nil,
		},
		{
			name:    "missing key for subPath",
			volumes: []corev1.Volume{configMapVolume("conf", "nginx-conf")},
			mounts:  []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/x.conf", SubPath: "absent.conf"}},
			wantErr: `no key for subPath "absent.conf"`,
		},
		{
			name:    "missing item key",
			volumes: []corev1.Volume{secretVolume("tls", "tls", corev1.KeyToPath{Key: "ca.crt", Path: "ca.crt"})},
			mounts:  []corev1.VolumeMount{{Name: "tls", MountPath: "/cert"}},
			wantErr: `has no key "ca.crt"`,
		},
		{
			name:    "missing volume",
			volumes: []corev1.Volume{secretVolume("tls", "tls")},
			mounts:  []corev1.VolumeMount{{Name: "ghost", MountPath: "/ghost"}},
			wantErr: `volume mount "ghost" names no volume`,
		},
		{
			name:    "missing configmap",
			volumes: []corev1.Volume{configMapVolume("conf", "absent")},
			mounts:  []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/x"}},
			wantErr: "configmap absent",
		},
		{
			name:    "missing secret",
			volumes: []corev1.Volume{secretVolume("tls", "absent")},
			mounts:  []corev1.VolumeMount{{Name: "tls", MountPath: "/cert"}},
			wantErr: "secret absent",
		},
		{
			name:    "unsupported volume type",
			volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			mounts:  []corev1.VolumeMount{{Name: "scratch", MountPath: "/tmp"}},
			wantErr: "configMap and secret volumes only",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "web"}, Spec: corev1.PodSpec{Volumes: tt.volumes}}
			ctr := corev1.Container{Name: "c", Image: "nginx", VolumeMounts: tt.mounts}
			got, err := c.containerFiles(context.Background(), pod, ctr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("containerFiles error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("containerFiles: %v", err)
			}
			// Whole-volume mounts come from a map: order is not part of the contract.
			slices.SortFunc(got, func(a, b file) int { return strings.Compare(a.Path, b.Path) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("containerFiles mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The provider finds a pod's sandbox and processes by these names: they must stay what the
// kubelet here creates.
func TestPodNames(t *testing.T) {
	t.Parallel()
	if got, want := PodNetns("seed", "default", "nginx-1"), netns.Prefix+"seed-p-default-nginx-1"; got != want {
		t.Errorf("PodNetns = %q; want %q", got, want)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nginx-1"}}
	if got, want := processName(pod, "nginx"), "pod/default/nginx-1/nginx"; got != want || !strings.HasPrefix(got, PodProcessPrefix("default", "nginx-1")) {
		t.Errorf("processName = %q; want %q, starting with PodProcessPrefix", got, want)
	}
	if strings.HasPrefix(processName(pod, "nginx"), PodProcessPrefix("default", "nginx")) {
		t.Error("pod nginx's prefix matches pod nginx-1's processes")
	}
}
