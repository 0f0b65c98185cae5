// Package nginx runs the `nginx` container image of a pod as a real Debian nginx process:
// the image's filesystem paths (/etc/nginx, /var/log/nginx, /var/lib/nginx, /run) are
// directories of an Instance, bind-mounted over the real paths in a private mount namespace,
// so the ConfigMap and Secret the pod mounts are used exactly as written.
package nginx

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ConfDir is the container directory mounts may write to (ConfigMaps, Secrets).
const ConfDir = "/etc/nginx"

// hostModules is where Debian installs dynamic modules (--modules-path); the image links
// /etc/nginx/modules to its own modules dir, so `load_module modules/…` style paths work.
const hostModules = "/usr/lib/nginx/modules"

// hostMimeTypes is copied into each instance, as the image ships its own mime.types.
const hostMimeTypes = "/etc/nginx/mime.types"

// BaseConfig is the nginx image's /etc/nginx/nginx.conf, changed only where the lab needs it.
const BaseConfig = `# The official nginx image's /etc/nginx/nginx.conf. Deviations for the lab:
# - user root (image: nginx): Debian has no "nginx" user and the lab runs as root.
# - worker_processes 1 (image: auto): many instances share a 2-core machine.
# - error_log also to stderr (image: error.log is a symlink to /dev/stderr): the lab keeps
#   the file for inspection and the process log gets what "kubectl logs" would show.
user  root;
worker_processes  1;

error_log  /var/log/nginx/error.log notice;
error_log  stderr notice;
pid        /var/run/nginx.pid;


events {
    worker_connections  1024;
}


http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
`

// targets are the container directories an instance replaces, in mount order. /run goes
// last: an instance dir under /run (the lab's state dir) must stay reachable until then.
var targets = []string{"/etc/nginx", "/var/log/nginx", "/var/lib/nginx", "/run"}

// tempDirs are Debian's compiled-in temp paths; nginx does not create their parent.
var tempDirs = []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"}

// Instance is one nginx "container": a directory tree standing for the container's
// filesystem paths (Dir/etc/nginx is the container's /etc/nginx, and so on).
type Instance struct{ Dir string }

// Mount is a file placed at a container path, e.g. "/etc/nginx/conf.d/nginx.conf".
type Mount struct {
	Path string
	Data []byte
	Mode os.FileMode // 0 means 0644, the default mode of ConfigMap and Secret volumes
}

// Prepare creates the instance tree under dir and writes the mounts into it. Only paths
// under /etc/nginx may be mounted; a mount of /etc/nginx/nginx.conf replaces BaseConfig.
// The image's conf.d/default.conf (a :80 server) is not created: pods get only what their
// manifests mount.
func Prepare(dir string, mounts []Mount) (*Instance, error) {
	seen := map[string]bool{}
	for _, m := range mounts {
		if err := checkMountPath(m.Path); err != nil {
			return nil, err
		}
		if seen[m.Path] {
			return nil, fmt.Errorf("prepare nginx instance: %s mounted twice", m.Path)
		}
		seen[m.Path] = true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("prepare nginx instance %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("prepare nginx instance: %w", err)
	}
	// Resolve links so the bind-mount sources are the real directories.
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("prepare nginx instance %s: %w", dir, err)
	}
	for _, t := range targets[:len(targets)-1] {
		if abs == t || strings.HasPrefix(abs, t+"/") {
			return nil, fmt.Errorf("prepare nginx instance: dir %s lies under %s, which the instance replaces", abs, t)
		}
	}
	inst := &Instance{Dir: abs}
	if err := inst.layout(); err != nil {
		return nil, fmt.Errorf("prepare nginx instance %s: %w", abs, err)
	}
	for _, m := range mounts {
		if err := inst.write(m); err != nil {
			return nil, fmt.Errorf("prepare nginx instance %s: %w", abs, err)
		}
	}
	return inst, nil
}

// checkMountPath accepts only clean absolute paths strictly under /etc/nginx.
func checkMountPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || !strings.HasPrefix(p, ConfDir+"/") {
		return fmt.Errorf("mount %q: only clean absolute paths under %s/ can be mounted", p, ConfDir)
	}
	return nil
}

// Path returns the instance path standing for a container path.
func (i *Instance) Path(containerPath string) string {
	return filepath.Join(i.Dir, filepath.FromSlash(containerPath))
}

func (i *Instance) layout() error {
	dirs := []string{"/etc/nginx/conf.d", "/var/log/nginx", "/run/lock"}
	for _, d := range tempDirs {
		dirs = append(dirs, "/var/lib/nginx/"+d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(i.Path(d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(i.Path("/etc/nginx/nginx.conf"), []byte(BaseConfig), 0o644); err != nil {
		return err
	}
	mime, err := os.ReadFile(hostMimeTypes)
	if err != nil {
		return fmt.Errorf("copy mime.types (is Debian's nginx installed?): %w", err)
	}
	if err := os.WriteFile(i.Path("/etc/nginx/mime.types"), mime, 0o644); err != nil {
		return err
	}
	link := i.Path("/etc/nginx/modules")
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(hostModules, link); err != nil {
			return err
		}
	}
	return nil
}

func (i *Instance) write(m Mount) error {
	p := i.Path(m.Path)
	// A link in the way (etc/nginx/modules) would lead the write out of the instance.
	for c := p; c != i.Path(ConfDir); c = filepath.Dir(c) {
		if fi, err := os.Lstat(c); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("write mount %s: %s is a symlink", m.Path, c)
		}
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	mode := m.Mode
	if mode == 0 {
		mode = 0o644
	}
	if err := os.WriteFile(p, m.Data, mode); err != nil {
		return fmt.Errorf("write mount %s: %w", m.Path, err)
	}
	// WriteFile keeps the mode of an existing file and applies the umask to a new one.
	return os.Chmod(p, mode)
}
