// Package controlplane runs a GKE-like private control plane inside the lab's master host:
// a real etcd and kube-apiserver serving on the private endpoint, with their own CA, RBAC,
// ServiceAccount token signing, and Node objects kept Ready by the lab's kubelet emulation.
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reachgate/framework/pki"
	"strings"
	"time"

	"reachgate/lab/netns"
)

// Config places the control plane.
type Config struct {
	Cluster     string       // cluster name, used in kubeconfig contexts
	Namespace   string       // the master host's network namespace
	Endpoint    netip.Addr   // private endpoint; the apiserver binds <Endpoint>:443
	ServiceCIDR netip.Prefix // --service-cluster-ip-range
	Dir         string       // where PKI, etcd data and kubeconfigs go
	APIServer   string       // kube-apiserver binary
	Etcd        string       // etcd binary
}

// ControlPlane is a started control plane.
type ControlPlane struct {
	Config
	CA    *pki.KeyPair
	Admin *pki.KeyPair
	// AdminKubeconfig points at https://<Endpoint> with a system:masters client certificate.
	AdminKubeconfig string
}

// ServiceIP is the first address of the service range: the `kubernetes` Service's ClusterIP.
func (c Config) ServiceIP() netip.Addr { return c.ServiceCIDR.Addr().Next() }

// URL is the private endpoint's URL.
func (c Config) URL() string { return "https://" + c.Endpoint.String() }

// Start writes the PKI, starts etcd and kube-apiserver in the master namespace as processes
// recorded in st, and waits until /readyz answers 200 over verified TLS.
func Start(ctx context.Context, st *netns.State, cfg Config, log *slog.Logger) (*ControlPlane, error) {
	cp := &ControlPlane{Config: cfg}
	pkiDir := filepath.Join(cfg.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return nil, err
	}
	if err := cp.writePKI(pkiDir); err != nil {
		return nil, fmt.Errorf("write control plane PKI: %w", err)
	}
	etcdProc, err := st.Start(netns.StartSpec{
		Name: "etcd", Namespace: cfg.Namespace, Path: cfg.Etcd,
		Args: []string{
			"--name=master", "--data-dir=" + filepath.Join(cfg.Dir, "etcd"),
			"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
			"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
			"--initial-cluster=master=http://127.0.0.1:2380", "--log-level=warn",
			"--quota-backend-bytes=1073741824", "--unsafe-no-fsync",
		},
	})
	if err != nil {
		return nil, err
	}
	log.Info("etcd started", "pid", etcdProc.PID, "namespace", cfg.Namespace)
	ep := cfg.Endpoint.String()
	apiProc, err := st.Start(netns.StartSpec{
		Name: "kube-apiserver", Namespace: cfg.Namespace, Path: cfg.APIServer,
		Args: []string{
			"--etcd-servers=http://127.0.0.1:2379",
			"--advertise-address=" + ep, "--bind-address=" + ep, "--secure-port=443",
			"--service-cluster-ip-range=" + cfg.ServiceCIDR.String(),
			"--tls-cert-file=" + filepath.Join(pkiDir, "apiserver.crt"),
			"--tls-private-key-file=" + filepath.Join(pkiDir, "apiserver.key"),
			"--client-ca-file=" + filepath.Join(pkiDir, "ca.crt"),
			"--service-account-key-file=" + filepath.Join(pkiDir, "sa.pub"),
			"--service-account-signing-key-file=" + filepath.Join(pkiDir, "sa.key"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--authorization-mode=Node,RBAC",
			"--cert-dir=" + filepath.Join(cfg.Dir, "apiserver-certs"),
			"--profiling=false",
			"--v=1",
		},
	})
	if err != nil {
		return nil, err
	}
	log.Info("kube-apiserver started", "pid", apiProc.PID, "endpoint", cfg.URL())
	start := time.Now()
	if err := cp.waitReady(ctx, []netns.Process{etcdProc, apiProc}); err != nil {
		return nil, err
	}
	log.Info("control plane ready", "endpoint", cfg.URL(), "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	cp.AdminKubeconfig = filepath.Join(cfg.Dir, "admin.kubeconfig")
	if err := WriteKubeconfig(cp.AdminKubeconfig, Kubeconfig{
		Cluster: cfg.Cluster, Server: cfg.URL(), CA: cp.CA.CertPEM,
		User: "admin", ClientCert: cp.Admin.CertPEM, ClientKey: cp.Admin.KeyPEM,
	}); err != nil {
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) writePKI(dir string) error {
	ca, err := pki.NewCA(cp.Cluster+"-ca", 5*365*24*time.Hour)
	if err != nil {
		return err
	}
	ep := net.IP(cp.Endpoint.AsSlice())
	svc := net.IP(cp.ServiceIP().AsSlice())
	serving, err := ca.Issue(pki.CertSpec{
		CommonName: "kube-apiserver",
		DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPs:      []net.IP{ep, svc},
		Usage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Validity: 365 * 24 * time.Hour,
	})
	if err != nil {
		return err
	}
	admin, err := ca.Issue(pki.CertSpec{
		CommonName: "reachgate-admin", Organization: []string{"system:masters"},
		Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Validity: 365 * 24 * time.Hour,
	})
	if err != nil {
		return err
	}
	// The ServiceAccount signing key only needs a key; a self-signed pair is the simplest holder.
	sa, err := pki.NewCA("service-account-signer", 365*24*time.Hour)
	if err != nil {
		return err
	}
	for name, kp := range map[string]*pki.KeyPair{"ca": ca, "apiserver": serving, "admin": admin, "sa": sa} {
		if err := kp.Write(dir, name); err != nil {
			return err
		}
	}
	pub, err := x509.MarshalPKIXPublicKey(sa.Key.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return err
	}
	cp.CA, cp.Admin = ca, admin
	return nil
}

// HTTPClient returns a client that dials from the given namespace and verifies the cluster CA.
func (cp *ControlPlane) HTTPClient(fromNS string) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(cp.CA.Cert)
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:     netns.Dialer(fromNS),
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		},
	}
}

func (cp *ControlPlane) waitReady(ctx context.Context, procs []netns.Process) error {
	client := cp.HTTPClient(cp.Namespace)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		for _, p := range procs {
			if !p.Running() {
				return fmt.Errorf("%s exited during start-up; last lines of %s:\n%s", p.Name, p.Log, Tail(p.Log, 30))
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cp.URL()+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz answered %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("kube-apiserver not ready after 90s (%v); last lines of its log:\n%s", last, Tail(procs[len(procs)-1].Log, 30))
}

// Tail returns the last n lines of a file, for error messages.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Load reads a started control plane's PKI back from its directory.
func Load(cfg Config) (*ControlPlane, error) {
	pkiDir := filepath.Join(cfg.Dir, "pki")
	ca, errCA := pki.LoadKeyPair(pkiDir, "ca")
	admin, errAdmin := pki.LoadKeyPair(pkiDir, "admin")
	if err := errors.Join(errCA, errAdmin); err != nil {
		return nil, fmt.Errorf("load control plane PKI: %w", err)
	}
	return &ControlPlane{Config: cfg, CA: ca, Admin: admin, AdminKubeconfig: filepath.Join(cfg.Dir, "admin.kubeconfig")}, nil
}
