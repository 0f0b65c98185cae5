// Package container runs the lab inside one Linux container, for hosts without a Linux kernel
// (macOS, Windows) or users who prefer Docker: testcontainers-go builds the lab image from the
// Dockerfile here (Debian with iproute2, nftables, nginx and its stream module, util-linux),
// starts one container with only the capabilities the lab needs (NET_ADMIN, SYS_ADMIN, the TUN
// device, no seccomp filter) and no network of its own, copies reachgate, kube-apiserver, etcd
// and the checkout in, runs commands there with their output streamed, copies results back and
// removes the container. Every container carries the Label; GC removes those a killed run left
// when testcontainers' reaper (Ryuk) is not running.
package container

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	dcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

//go:embed Dockerfile
var dockerfile []byte

// Label marks every container (and image) of the lab runtime; its value is the run's name.
const Label = "io.reachgate.lab"

// BaseEnv names the base image instead of DefaultBase (e.g. an image made by docker import).
const BaseEnv = "REACHGATE_CONTAINER_BASE"

// DefaultBase is Docker Hub's Debian: what a laptop pulls.
const DefaultBase = "debian:bookworm"

// Image is the lab image's repository; its tag is a hash of the Dockerfile and the base.
const Image = "reachgate-lab"

// Copy is a file or directory copied into the container before anything runs there.
type Copy struct {
	Host, Path string // host path, container path
	// Skip, for a directory, leaves out entries whose slash-separated path relative to Host
	// it accepts (e.g. .git, bin/).
	Skip func(rel string, dir bool) bool
}

// Options configure a lab container.
type Options struct {
	// Name is the run's name: the container is named reachgate-<Name> and labelled with it.
	Name string
	// Base is the base image (default $REACHGATE_CONTAINER_BASE, else DefaultBase).
	Base   string
	Copies []Copy
	// Progress gets one line per step (building the image, starting, copying).
	Progress io.Writer
}

// Lab is a running lab container.
type Lab struct {
	id  string
	c   *testcontainers.DockerContainer // nil when attached to a container by ID
	cli *testcontainers.DockerClient
}

// Attach returns the running lab container with this ID (an interactive lab, started by an
// earlier command).
func Attach(ctx context.Context, id string) (*Lab, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	if res.Container.State == nil || !res.Container.State.Running {
		cli.Close()
		return nil, fmt.Errorf("container %s is not running", id)
	}
	return &Lab{id: id, cli: cli}, nil
}

// ImageTag is the tag of the lab image for a base: it changes with the Dockerfile or the base.
func ImageTag(base string) string {
	h := sha256.Sum256(append(append([]byte{}, dockerfile...), base...))
	return hex.EncodeToString(h[:6])
}

func (o Options) base() string {
	if o.Base != "" {
		return o.Base
	}
	if b := os.Getenv(BaseEnv); b != "" {
		return b
	}
	return DefaultBase
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "container: "+format+"\n", args...)
	}
}

// Start builds the lab image (Docker's cache makes a rebuild instant), starts the container
// and copies o.Copies in. On error nothing is left running.
func Start(ctx context.Context, o Options) (_ *Lab, err error) {
	if o.Name == "" {
		return nil, errors.New("container: a run name is needed")
	}
	base := o.base()
	buildCtx, err := tarOf(map[string][]byte{"Dockerfile": dockerfile})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	progress(o.Progress, "building image %s:%s from %s", Image, ImageTag(base), base)
	var buildLog bytes.Buffer
	req := testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			ContextArchive: bytes.NewReader(buildCtx),
			Repo:           Image,
			Tag:            ImageTag(base),
			BuildArgs:      map[string]*string{"BASE": &base},
			KeepImage:      true,
			BuildLogWriter: &buildLog,
		},
		Name:   "reachgate-" + o.Name,
		Labels: map[string]string{Label: o.Name},
		HostConfigModifier: func(hc *dcontainer.HostConfig) {
			// What the lab does inside: network namespaces and mounts (SYS_ADMIN), links,
			// addresses, routes and nftables (NET_ADMIN), TUN devices for WireGuard. Not
			// privileged; seccomp's default profile refuses setns/unshare of namespaces.
			hc.CapAdd = []string{"NET_ADMIN", "SYS_ADMIN"}
			hc.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
			hc.Resources.Devices = []dcontainer.DeviceMapping{{PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm"}}
			// The lab sets net.* sysctls (forwarding) in its namespaces: /proc/sys must be
			// writable (Docker mounts it read-only by default; systempaths=unconfined on the CLI).
			hc.ReadonlyPaths = []string{}
			hc.NetworkMode = "none"
			init := true
			hc.Init = &init
		},
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		if c != nil {
			_ = c.Terminate(context.WithoutCancel(ctx))
		}
		if buildLog.Len() > 0 {
			err = fmt.Errorf("%w\nimage build log:\n%s", err, tailLines(buildLog.String(), 30))
		}
		if strings.Contains(err.Error(), "registry") || strings.Contains(err.Error(), "pull") {
			err = fmt.Errorf("%w\n(the base image %s could not be pulled: connect the engine to a registry, or set %s to a local image)", err, base, BaseEnv)
		}
		return nil, fmt.Errorf("container: start the lab container: %w", err)
	}
	dc, ok := c.(*testcontainers.DockerContainer)
	if !ok {
		_ = c.Terminate(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("container: unexpected container type %T", c)
	}
	l := &Lab{id: dc.GetContainerID(), c: dc}
	defer func() {
		if err != nil {
			_ = l.Terminate(context.WithoutCancel(ctx))
		}
	}()
	if l.cli, err = testcontainers.NewDockerClientWithOpts(ctx); err != nil {
		return nil, err
	}
	progress(o.Progress, "started %s (%s) in %.1fs", "reachgate-"+o.Name, dc.GetContainerID()[:12], time.Since(t0).Seconds())
	for _, cp := range o.Copies {
		t1 := time.Now()
		n, err := l.copyIn(ctx, cp)
		if err != nil {
			return nil, fmt.Errorf("container: copy %s to %s: %w", cp.Host, cp.Path, err)
		}
		progress(o.Progress, "copied %s to %s (%.1f MB) in %.1fs", cp.Host, cp.Path, float64(n)/1e6, time.Since(t1).Seconds())
	}
	return l, nil
}

// ID is the container's ID.
func (l *Lab) ID() string { return l.id }

// CopyIn copies a file or directory into the running container.
func (l *Lab) CopyIn(ctx context.Context, cp Copy) error {
	_, err := l.copyIn(ctx, cp)
	return err
}

// copyIn streams one Copy as a tar archive into the container; it returns the bytes copied.
func (l *Lab) copyIn(ctx context.Context, cp Copy) (int64, error) {
	fi, err := os.Stat(cp.Host)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	var n int64
	go func() {
		tw := tar.NewWriter(pw)
		var err error
		if fi.IsDir() {
			n, err = addDir(tw, cp.Host, strings.TrimPrefix(cp.Path, "/"), cp.Skip)
		} else {
			n, err = addFile(tw, cp.Host, strings.TrimPrefix(cp.Path, "/"), fi)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	_, err = l.cli.CopyToContainer(ctx, l.ID(), client.CopyToContainerOptions{DestinationPath: "/", Content: pr})
	pr.CloseWithError(err)
	return n, err
}

func addFile(tw *tar.Writer, host, name string, fi os.FileInfo) (int64, error) {
	f, err := os.Open(host)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	hdr := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return 0, err
	}
	return io.Copy(tw, f)
}

func addDir(tw *tar.Writer, root, prefix string, skip func(string, bool) bool) (int64, error) {
	var total int64
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && skip != nil && skip(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := path.Join(prefix, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime(), Typeflag: tar.TypeDir})
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return tw.WriteHeader(&tar.Header{Name: name, Linkname: target, Mode: 0o777, ModTime: fi.ModTime(), Typeflag: tar.TypeSymlink})
		case fi.Mode().IsRegular():
			n, err := addFile(tw, p, name, fi)
			total += n
			return err
		}
		return nil
	})
	return total, err
}

// Exec runs argv in the container (working directory dir, env added) with its output streamed
// to stdout and stderr, and returns its exit status.
func (l *Lab) Exec(ctx context.Context, argv, env []string, dir string, stdout, stderr io.Writer) (int, error) {
	return l.ExecInput(ctx, argv, env, dir, nil, stdout, stderr)
}

// ExecInput is Exec with stdin fed to the command (nil: none).
func (l *Lab) ExecInput(ctx context.Context, argv, env []string, dir string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	created, err := l.cli.ExecCreate(ctx, l.ID(), client.ExecCreateOptions{
		Cmd: argv, Env: env, WorkingDir: dir, AttachStdout: true, AttachStderr: true, AttachStdin: stdin != nil,
	})
	if err != nil {
		return 0, fmt.Errorf("container: exec %s: %w", argv[0], err)
	}
	att, err := l.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("container: attach to %s: %w", argv[0], err)
	}
	defer att.Close()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, stdin)
			_ = att.CloseWrite()
		}()
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("container: output of %s: %w", argv[0], err)
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	for {
		res, err := l.cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, fmt.Errorf("container: exec status of %s: %w", argv[0], err)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CopyOut copies the container's directory dir into the host directory to (created; files
// already there are replaced); a file dir is copied into to. A missing dir copies nothing
// and is not an error.
func (l *Lab) CopyOut(ctx context.Context, dir, to string) (files int, err error) {
	res, err := l.cli.CopyFromContainer(ctx, l.ID(), client.CopyFromContainerOptions{SourcePath: dir})
	if err != nil {
		if strings.Contains(err.Error(), "No such container:path") || strings.Contains(err.Error(), "not found") {
			return 0, nil
		}
		return 0, err
	}
	defer res.Content.Close()
	if err := os.MkdirAll(to, 0o755); err != nil {
		return 0, err
	}
	tr := tar.NewReader(res.Content)
	base := path.Base(dir)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return files, err
		}
		// A directory arrives as base/…, a single file as base.
		rel := strings.TrimPrefix(hdr.Name, base+"/")
		if hdr.Name == base {
			if hdr.Typeflag != tar.TypeReg {
				continue
			}
			rel = base
		}
		if rel == "" || strings.Contains(rel, "..") {
			continue
		}
		dst := filepath.Join(to, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return files, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return files, err
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return files, err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return files, err
			}
			if err := f.Close(); err != nil {
				return files, err
			}
			files++
		}
	}
}

// Terminate stops and removes the container (the image is kept for the next run).
func (l *Lab) Terminate(ctx context.Context) error {
	var errs []error
	if l.c != nil {
		errs = append(errs, l.c.Terminate(ctx, testcontainers.StopTimeout(5*time.Second)))
	} else if l.cli != nil {
		_, err := l.cli.ContainerRemove(ctx, l.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		errs = append(errs, err)
	}
	if l.cli != nil {
		errs = append(errs, l.cli.Close())
	}
	return errors.Join(errs...)
}

// GC removes every container carrying Label (what a killed run left when no reaper runs)
// and returns their names.
func GC(ctx context.Context) ([]string, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", Label)})
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range list.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
			continue
		}
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

func tarOf(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
