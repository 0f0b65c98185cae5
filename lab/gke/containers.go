package gke

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"reachgate/lab/netns"
	"reachgate/lab/nginx"
)

// ProxyImage is the image name of reachgate's own Go proxy; the lab runs it as
// `reachgate proxy` with the container's files under REACHGATE_ROOT.
const ProxyImage = "reachgate.dev/proxy"

// imageKind says how the lab runs an image: "nginx", "proxy", or "" (not runnable here).
func imageKind(image string) string {
	name := image
	if i := strings.IndexAny(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	switch {
	case path.Base(name) == "nginx":
		return "nginx"
	case name == ProxyImage || strings.HasSuffix(name, "/reachgate-proxy"):
		return "proxy"
	}
	return ""
}

// file is a file the container sees at Path.
type file struct {
	Path string
	Data []byte
	Mode os.FileMode
}

// containerFiles resolves a container's ConfigMap and Secret volume mounts (items, subPath)
// into files, as the kubelet would project them.
func (c *Controller) containerFiles(ctx context.Context, pod *corev1.Pod, ctr corev1.Container) ([]file, error) {
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	var out []file
	for _, m := range ctr.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %q names no volume", m.Name)
		}
		if v.Projected != nil {
			// The ServiceAccount token volume the admission plugin adds: the images the lab
			// runs never read it, so it is not materialized.
			continue
		}
		data, items, mode, err := c.volumeData(ctx, pod.Namespace, v)
		if err != nil {
			return nil, err
		}
		if m.SubPath != "" {
			d, ok := data[keyFor(items, m.SubPath)]
			if !ok {
				return nil, fmt.Errorf("volume %q has no key for subPath %q", m.Name, m.SubPath)
			}
			out = append(out, file{Path: m.MountPath, Data: d, Mode: mode})
			continue
		}
		if len(items) > 0 {
			for _, it := range items {
				d, ok := data[it.Key]
				if !ok {
					return nil, fmt.Errorf("volume %q has no key %q", m.Name, it.Key)
				}
				out = append(out, file{Path: path.Join(m.MountPath, it.Path), Data: d, Mode: mode})
			}
			continue
		}
		for k, d := range data {
			out = append(out, file{Path: path.Join(m.MountPath, k), Data: d, Mode: mode})
		}
	}
	return out, nil
}

// keyFor maps a projected path back to its key (items rename keys).
func keyFor(items []corev1.KeyToPath, p string) string {
	for _, it := range items {
		if it.Path == p {
			return it.Key
		}
	}
	return p
}

func (c *Controller) volumeData(ctx context.Context, ns string, v corev1.Volume) (map[string][]byte, []corev1.KeyToPath, os.FileMode, error) {
	switch {
	case v.ConfigMap != nil:
		cm, err := c.cs.CoreV1().ConfigMaps(ns).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("configmap %s for volume %q: %w", v.ConfigMap.Name, v.Name, err)
		}
		data := map[string][]byte{}
		for k, s := range cm.Data {
			data[k] = []byte(s)
		}
		for k, b := range cm.BinaryData {
			data[k] = b
		}
		return data, v.ConfigMap.Items, 0o644, nil
	case v.Secret != nil:
		s, err := c.cs.CoreV1().Secrets(ns).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("secret %s for volume %q: %w", v.Secret.SecretName, v.Name, err)
		}
		return s.Data, v.Secret.Items, 0o600, nil
	}
	return nil, nil, 0, fmt.Errorf("volume %q: the lab supports configMap and secret volumes only", v.Name)
}

// startContainer runs one container of a pod as a process in the pod's namespace.
func (c *Controller) startContainer(ctx context.Context, st *netns.State, pod *corev1.Pod, ctr corev1.Container, podNS, dir string) (netns.Process, error) {
	files, err := c.containerFiles(ctx, pod, ctr)
	if err != nil {
		return netns.Process{}, err
	}
	name := processName(pod, ctr.Name)
	cdir := filepath.Join(dir, ctr.Name)
	switch imageKind(ctr.Image) {
	case "nginx":
		var mounts []nginx.Mount
		for _, f := range files {
			mounts = append(mounts, nginx.Mount{Path: f.Path, Data: f.Data, Mode: f.Mode})
		}
		inst, err := nginx.Prepare(cdir, mounts)
		if err != nil {
			return netns.Process{}, err
		}
		argv := inst.Command()
		return st.Start(netns.StartSpec{Name: name, Namespace: podNS, Path: argv[0], Args: argv[1:]})
	case "proxy":
		root := filepath.Join(cdir, "rootfs")
		for _, f := range files {
			p := filepath.Join(root, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return netns.Process{}, err
			}
			if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
				return netns.Process{}, err
			}
		}
		args := append(append([]string{}, ctr.Command...), ctr.Args...)
		if len(args) == 0 {
			args = []string{"proxy", "--config", "/etc/reachgate/proxy.yaml"}
		}
		return st.Start(netns.StartSpec{Name: name, Namespace: podNS, Path: c.self, Args: args,
			Env: []string{"REACHGATE_ROOT=" + root, "GOMAXPROCS=1", "GOGC=400", "GODEBUG=schedtrace=2147483647"}}) // why: lab/proxy/runtime.go
	}
	return netns.Process{}, fmt.Errorf("image %q: the lab runs nginx and %s images only", ctr.Image, ProxyImage)
}

func processName(pod *corev1.Pod, container string) string {
	return PodProcessPrefix(pod.Namespace, pod.Name) + container
}
