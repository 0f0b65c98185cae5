// Package doctor checks, in about a second and before anything is built, what the lab needs
// on this machine: root, the kernel's network features (probed in a namespace of its own),
// the tools the lab and the tests run, the Go toolchain, free disk for the build cache, the
// lab binaries' cache and labs left behind. Each missing piece comes with its one-line fix.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"reachgate/lab/binaries"
	"reachgate/lab/netns"
	"reachgate/lab/rootless"
)

// Status of a check.
type Status string

// Statuses: OK passes; Warn is worth knowing and does not block; Missing blocks the lab.
const (
	OK      Status = "ok"
	Warn    Status = "warn"
	Missing Status = "missing"
)

// Check is one thing looked at.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// Options change where the checks look (tests point them elsewhere).
type Options struct {
	// LookPath finds a program; default exec.LookPath, then /usr/sbin and /sbin.
	LookPath func(string) (string, error)
	// Root overrides whether the caller is root (nil: the effective user id says).
	Root *bool
	// MinFreeGiB is the free disk the build cache needs (default 6).
	MinFreeGiB float64
	// Self is the reachgate binary: without root, the kernel is probed by running it as
	// "doctor --kernel-only" inside a throw-away user namespace (empty: not probed).
	Self string
	// KernelOnly runs only the kernel probe (what Self runs inside that namespace).
	KernelOnly bool
}

// tool is a program the lab or the tests run, and how to get it.
type tool struct{ name, why, fix string }

var tools = []tool{
	{"ip", "namespaces, links, routes", "apt-get install iproute2"},
	{"nsenter", "commands at a host's position", "apt-get install util-linux"},
	{"nft", "VPC firewalls, load balancers, the front end's reply routing", "apt-get install nftables"},
	{"nginx", "the ilb-proxy solution's proxy", "apt-get install nginx libnginx-mod-stream"},
	{"redis-server", "managed-service hosts (Memorystore)", "apt-get install redis-server"},
	{"redis-cli", "lab/redis tests", "apt-get install redis-tools"},
	{"gcloud", "suites/gcloud, against the lab's GCP API", "install google-cloud-cli (https://cloud.google.com/sdk/docs/install#deb)"},
	{"gke-gcloud-auth-plugin", "suites/gcloud's get-credentials", "apt-get install google-cloud-cli-gke-gcloud-auth-plugin"},
	{"chromium", "the report test renders report.html", "apt-get install chromium"},
	{"go", "builds the CLI and the lab binaries", "install Go (https://go.dev/doc/install)"},
}

// Run runs every check.
func Run(ctx context.Context, o Options) []Check {
	if o.LookPath == nil {
		o.LookPath = lookPath
	}
	if o.MinFreeGiB == 0 {
		o.MinFreeGiB = 6
	}
	root := os.Geteuid() == 0
	if o.Root != nil {
		root = *o.Root
	}
	if o.KernelOnly {
		return []Check{kernelCheck(ctx, o.LookPath)}
	}
	var out []Check
	if root {
		out = append(out, Check{Name: "root", Status: OK})
	} else {
		out = append(out, rootlessChecks(ctx, o)...)
	}
	for _, t := range tools {
		if p, err := o.LookPath(t.name); err == nil {
			out = append(out, Check{Name: t.name, Status: OK, Detail: p})
		} else {
			out = append(out, Check{Name: t.name, Status: Missing, Detail: "not found: needed for " + t.why, Fix: t.fix})
		}
	}
	for _, t := range testTools {
		if p, err := o.LookPath(t.name); err == nil {
			out = append(out, Check{Name: t.name, Status: OK, Detail: p})
		} else {
			out = append(out, Check{Name: t.name, Status: Warn, Detail: "not found: needed by " + t.why, Fix: t.fix})
		}
	}
	out = append(out, dockerCheck())
	out = append(out, fileCheck("nginx stream module", "/usr/lib/nginx/modules/ngx_stream_module.so", "the go-l4 and nginx L4 proxies", "apt-get install libnginx-mod-stream"))
	out = append(out, fileCheck("/dev/net/tun", "/dev/net/tun", "the WireGuard tunnels of bgp-export", "modprobe tun"))
	if root {
		out = append(out, kernelCheck(ctx, o.LookPath))
	}
	out = append(out, diskCheck(binaries.CacheDir(), o.MinFreeGiB))
	out = append(out, cacheCheck(ctx))
	if root {
		out = append(out, labsCheck())
	} else {
		out = append(out, rootlessLabsCheck())
	}
	return out
}

// Failed reports whether any check is Missing.
func Failed(cs []Check) bool {
	for _, c := range cs {
		if c.Status == Missing {
			return true
		}
	}
	return false
}

// testTools are needed by make test only (a Warn when missing).
var testTools = []tool{
	{"dockerd", "make test's container runtime test (it starts its own engine)", "apt-get install docker.io"},
	{"debootstrap", "make test's container runtime test (it builds the base image)", "apt-get install debootstrap"},
}

// dockerSockets are where Docker engines listen: DOCKER_HOST first, then Linux's, Docker
// Desktop's, colima's, OrbStack's and Podman's defaults.
func dockerSockets() []string {
	var socks []string
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		socks = append(socks, strings.TrimPrefix(h, "unix://"))
	}
	socks = append(socks, "/var/run/docker.sock")
	if home, err := os.UserHomeDir(); err == nil {
		socks = append(socks, filepath.Join(home, ".docker/run/docker.sock"), filepath.Join(home, ".colima/default/docker.sock"),
			filepath.Join(home, ".orbstack/run/docker.sock"))
	}
	if rd := os.Getenv("XDG_RUNTIME_DIR"); rd != "" {
		socks = append(socks, filepath.Join(rd, "podman/podman.sock"))
	}
	return socks
}

// dockerCheck looks for a Docker engine that answers: the container runtime needs one.
func dockerCheck() Check {
	c := Check{Name: "Docker engine (container runtime)"}
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		c.Status, c.Detail = OK, "DOCKER_HOST="+h+" (not probed)"
		return c
	}
	for _, s := range dockerSockets() {
		if _, err := os.Stat(s); err != nil {
			continue
		}
		conn, err := net.DialTimeout("unix", s, 500*time.Millisecond)
		if err != nil {
			c.Status, c.Detail, c.Fix = Warn, s+" does not answer: "+err.Error(), "start the engine (Docker Desktop, colima start, OrbStack, podman machine start)"
			return c
		}
		conn.Close()
		c.Status, c.Detail = OK, "at "+s
		return c
	}
	c.Status, c.Detail, c.Fix = Warn, "none found: needed only for the container runtime (REACHGATE_RUNTIME=container, and where the kernel is not Linux)",
		"install Docker Desktop, colima, OrbStack or Podman (and set DOCKER_HOST to its socket)"
	return c
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/go/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func fileCheck(name, path, why, fix string) Check {
	if _, err := os.Stat(path); err != nil {
		return Check{Name: name, Status: Missing, Detail: path + " is missing: needed for " + why, Fix: fix}
	}
	return Check{Name: name, Status: OK, Detail: path}
}

// kernelCheck makes a namespace of its own and, in it, what the lab makes: a veth pair, an nft
// table and a WireGuard link; then removes it.
func kernelCheck(ctx context.Context, look func(string) (string, error)) Check {
	c := Check{Name: "kernel (netns, veth, nftables)"}
	if _, err := look("ip"); err != nil {
		c.Status, c.Detail = Warn, "not probed: ip is missing"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ns := fmt.Sprintf("%sdoctor-%d", netns.Prefix, os.Getpid())
	run := func(args ...string) error {
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("ip", "netns", "add", ns); err != nil {
		c.Status, c.Detail, c.Fix = Missing, err.Error(), "use a kernel with network namespaces (CONFIG_NET_NS)"
		return c
	}
	defer func() { _ = exec.Command("ip", "netns", "del", ns).Run() }()
	steps := []struct {
		args []string
		fix  string
	}{
		{[]string{"ip", "-n", ns, "link", "add", "name", "rgd0", "type", "veth", "peer", "name", "rgd1"}, "modprobe veth"},
		{[]string{"ip", "-n", ns, "link", "add", "name", "rgwg0", "type", "wireguard"}, ""},
	}
	if _, err := look("nft"); err == nil {
		steps = append(steps, struct {
			args []string
			fix  string
		}{[]string{"nsenter", "--net=" + netns.NamespacePath(ns), "nft", "add", "table", "ip", "doctor"}, "modprobe nf_tables"})
	}
	var soft []string
	for _, s := range steps {
		if err := run(s.args...); err != nil {
			if s.fix == "" {
				// The lab's tunnels run WireGuard in user space over tun: the kernel module helps, not needed.
				soft = append(soft, "no kernel WireGuard (the lab uses its user-space implementation)")
				continue
			}
			c.Status, c.Detail, c.Fix = Missing, err.Error(), s.fix
			return c
		}
	}
	c.Status, c.Detail = OK, "probed in namespace "+ns+", removed"
	if len(soft) > 0 {
		c.Detail += "; " + strings.Join(soft, "; ")
	}
	return c
}

// rootlessChecks, for a user who is not root: can the lab run in user namespaces, and does
// the kernel do there what the lab needs (probed inside one).
func rootlessChecks(ctx context.Context, o Options) []Check {
	c := Check{Name: "user namespaces (rootless lab)"}
	if why, fix := rootless.Refusal(os.ReadFile); why != "" {
		c.Status, c.Detail, c.Fix = Missing, why, fix
		return []Check{c}
	}
	if _, err := o.LookPath("nsenter"); err != nil {
		c.Status, c.Detail, c.Fix = Missing, "not root, and nsenter (which enters the lab's namespaces) is missing", "apt-get install util-linux"
		return []Check{c}
	}
	if o.Self == "" {
		c.Status, c.Detail = Warn, "not root; user namespaces not probed"
		return []Check{c}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd, err := rootless.ProbeCommand(pctx, o.Self, "doctor", "--kernel-only", "--json")
	if err != nil {
		c.Status, c.Detail = Missing, err.Error()
		return []Check{c}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	var inner []Check
	if err == nil {
		err = json.Unmarshal(b, &inner)
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		c.Status, c.Detail, c.Fix = Missing, rootless.Explain(err).Error(), "run the lab as root (sudo make e2e-local)"
		return []Check{c}
	}
	c.Status, c.Detail = OK, "not root: the lab runs in a user namespace of its own (probed)"
	return append([]Check{c}, inner...)
}

// rootlessLabsCheck reports the user's lab namespaces (the labs of other users and root's
// are not this user's to see or remove).
func rootlessLabsCheck() Check {
	c := Check{Name: "labs left behind (this user's)", Status: OK, Detail: "none"}
	h, running, labs, err := rootless.Labs()
	switch {
	case err != nil:
		c.Status, c.Detail = Warn, err.Error()
	case h == nil:
	case !running:
		c.Status, c.Detail, c.Fix = Warn, fmt.Sprintf("the namespaces of holder PID %d are gone, the record is left", h.PID), "reachgate lab gc"
	case len(labs) == 0:
		c.Status, c.Detail, c.Fix = Warn, fmt.Sprintf("namespaces held by PID %d with no lab in them", h.PID), "reachgate lab gc"
	default:
		c.Detail = fmt.Sprintf("up in the namespaces held by PID %d: %s", h.PID, strings.Join(labs, ", "))
	}
	return c
}

// diskCheck wants minGiB free where the build cache is (or would be).
func diskCheck(dir string, minGiB float64) Check {
	c := Check{Name: "free disk for the build cache"}
	for d := dir; ; d = filepath.Dir(d) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d, &st); err == nil {
			free := float64(st.Bavail) * float64(st.Bsize) / (1 << 30)
			c.Detail = fmt.Sprintf("%.1f GiB free at %s", free, d)
			c.Status = OK
			if free < minGiB {
				c.Status, c.Fix = Missing, fmt.Sprintf("free %.0f GiB there, or set REACHGATE_CACHE (and GOCACHE) to a larger disk", minGiB)
			}
			return c
		}
		if filepath.Dir(d) == d {
			c.Status, c.Detail = Warn, "cannot stat "+dir
			return c
		}
	}
}

func cacheCheck(ctx context.Context) Check {
	c := Check{Name: "lab binaries (kube-apiserver, etcd)"}
	dir, built, err := binaries.Cached(ctx)
	switch {
	case err != nil:
		c.Status, c.Detail = Warn, err.Error()
	case built:
		c.Status, c.Detail = OK, "cached in "+dir
	default:
		c.Status, c.Detail, c.Fix = Warn, "not built yet: the first make e2e-local builds them into "+dir+" (about 9 minutes on 2 cores)", "make lab-binaries"
	}
	return c
}

func labsCheck() Check {
	c := Check{Name: "labs left behind", Status: OK}
	states, err := netns.ListStates()
	if err != nil {
		c.Status, c.Detail = Warn, err.Error()
		return c
	}
	var dead, up []string
	for _, s := range states {
		if s.Alive() {
			up = append(up, s.Name)
		} else {
			dead = append(dead, s.Name)
		}
	}
	switch {
	case len(dead) > 0:
		c.Status, c.Detail, c.Fix = Warn, "labs whose owner is gone: "+strings.Join(dead, ", "), "reachgate lab gc"
	case len(up) > 0:
		c.Detail = "up: " + strings.Join(up, ", ")
	default:
		c.Detail = "none"
	}
	return c
}
