// Package ilbproxy applies the article's Solution 1 to an environment: a reverse proxy
// (nginx or reachgate's Go proxy, 2 replicas) in the GKE VPC behind an internal passthrough
// load balancer with a reserved static address, and a least-privilege kubeconfig for the
// third-party VM. It uses client-go and the provider's Cloud only, so it runs unchanged on
// the lab, kind and GKE.
package ilbproxy

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reachgate/framework/cloud"
	"reachgate/framework/pki"
	"reachgate/framework/topology"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/fixtures"
	"reachgate/framework/kubeconfig"
	"reachgate/framework/provider"
	"reachgate/framework/solution"
)

// Variant is seed (the article as written) or hardened (what reachgate recommends).
type Variant string

// Proxy is the proxy implementation.
type Proxy string

// Variants and proxies.
const (
	Seed     Variant = "seed"
	Hardened Variant = "hardened"
	Nginx    Proxy   = "nginx"
	GoL7     Proxy   = "go-l7"
	GoL4     Proxy   = "go-l4"
)

// Proxies lists the proxy implementations.
var Proxies = []Proxy{Nginx, GoL7, GoL4}

// ParseProxy accepts nginx, go (= go-l7), go-l7, go-l4.
func ParseProxy(s string) (Proxy, error) {
	switch s {
	case "nginx":
		return Nginx, nil
	case "go", "go-l7":
		return GoL7, nil
	case "go-l4":
		return GoL4, nil
	}
	return "", fmt.Errorf("proxy %q: choose nginx, go-l7 (or go) or go-l4", s)
}

// clusterInfoAccess lets the VM run `kubectl cluster-info` (it lists kube-system services).
var clusterInfoAccess = kubeconfig.ClusterInfoAccess

// DefaultAddress is the ILB address Apply reserves when none is given: the 28th address of the
// cluster's node subnet, as the article's 10.128.0.28 is of 10.128.0.0/20.
func DefaultAddress(t *topology.Topology) (netip.Addr, error) {
	if t == nil || t.Cluster == nil || !t.Cluster.NodeRange.IsValid() {
		return netip.Addr{}, errors.New("the topology declares no cluster subnet to take the ILB address from (give an address)")
	}
	a := t.Cluster.NodeRange.Masked().Addr().As4()
	a[3] += 28
	addr := netip.AddrFrom4(a)
	if !t.Cluster.NodeRange.Contains(addr) {
		return netip.Addr{}, fmt.Errorf("node subnet %s is too small for the default ILB address (give an address)", t.Cluster.NodeRange)
	}
	return addr, nil
}

// Options for Apply.
type Options struct {
	Variant   Variant
	Proxy     Proxy
	Address   netip.Addr    // the ILB's static internal address; default DefaultAddress of the node range
	TokenTTL  time.Duration // default 24h
	Namespace string        // default "default"
	Replicas  int32         // default 2
	Log       *slog.Logger
}

func (o *Options) defaults() {
	if o.TokenTTL == 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.Variant == "" {
		o.Variant = Hardened
	}
	if o.Proxy == "" {
		o.Proxy = Nginx
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Result is what the third-party VM needs. Token is a secret: never log it.
type Result struct {
	Server        string // https://<address>
	Address       netip.Addr
	CAPEM         []byte // what the kubeconfig trusts
	TLSServerName string // set for L4 passthrough
	Kubeconfig    []byte
	Token         string
	Expires       time.Time
	Seconds       float64 // how long Apply took
	// Seed variant only: the article's server.pem (certificate + key, what its curl trusts)
	// and how many ServiceAccount token Secrets `.secrets` listed.
	ServerPEM    []byte
	SecretsFound int
}

func clients(env provider.Environment) (kubernetes.Interface, provider.Cloud, error) {
	return solution.Clients(env)
}

// Apply stands the solution up and waits until the load balancer has its address and the
// proxies are ready. It is idempotent.
func Apply(ctx context.Context, env provider.Environment, o Options) (*Result, error) {
	o.defaults()
	if o.Variant != Hardened && o.Variant != Seed {
		return nil, fmt.Errorf("variant %q: choose %q or %q", o.Variant, Seed, Hardened)
	}
	if o.Variant == Seed && o.Proxy != Nginx {
		return nil, fmt.Errorf("the seed variant is the article's nginx script; proxy %q has no seed form", o.Proxy)
	}
	start := time.Now()
	cs, cl, err := clients(env)
	if err != nil {
		return nil, err
	}
	info, err := cl.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe cluster: %w", err)
	}
	if !o.Address.IsValid() {
		if o.Address, err = DefaultAddress(env.Topology()); err != nil {
			return nil, err
		}
	}
	addr, err := cl.ReserveInternalAddress(ctx, cloud.AddressSpec{Name: AddressName, Region: info.Region,
		Subnetwork: info.Subnetwork, Address: o.Address, Purpose: "SHARED_LOADBALANCER_VIP"})
	if err != nil {
		return nil, fmt.Errorf("reserve %s: %w", o.Address, err)
	}
	o.Log.Info("static internal address reserved", "name", AddressName, "address", addr)
	res := &Result{Server: "https://" + addr.String(), Address: addr}
	if o.Variant == Seed {
		if err := applySeed(ctx, cs, o, info, addr, res); err != nil {
			return nil, err
		}
		if err := waitReady(ctx, cs, o.Namespace, workloadFor(Nginx).name, addr, o.Replicas); err != nil {
			return nil, err
		}
		res.Seconds = time.Since(start).Seconds()
		o.Log.Info("ilb-proxy (seed) applied", "server", res.Server, "secretsFound", res.SecretsFound, "seconds", fmt.Sprintf("%.1f", res.Seconds))
		return res, nil
	}
	w := workloadFor(o.Proxy)
	l7 := o.Proxy != GoL4
	// One implementation at a time: switching proxies replaces the other's workload, whose
	// Service would otherwise claim the same address.
	for _, p := range Proxies {
		if other := workloadFor(p); other.name != w.name {
			if err := deleteWorkload(ctx, cs, o.Namespace, other); err != nil {
				return nil, err
			}
		}
	}
	rollout := map[string]string{}
	if l7 {
		pem, certPEM, err := serve(ctx, cs, o, addr)
		if err != nil {
			return nil, err
		}
		res.CAPEM = pem
		// A new certificate rolls the proxies: they read it at start only.
		rollout["reachgate.dev/tls-sha256"] = digest(certPEM)
	} else {
		// Passthrough: the client sees the API server's certificate, which names the
		// private endpoint and kubernetes.default, never the ILB address.
		res.CAPEM, res.TLSServerName = info.CAPEM, "kubernetes.default"
	}
	tmpl := map[Proxy]string{Nginx: "nginx/hardened.conf.tmpl", GoL7: "proxy/l7.yaml.tmpl", GoL4: "proxy/l4.yaml.tmpl"}[o.Proxy]
	conf, err := fixtures.Render(tmpl, map[string]string{"Endpoint": info.PrivateEndpoint.String(), "Address": addr.String()})
	if err != nil {
		return nil, err
	}
	objs := []func() error{
		func() error {
			return apply(ctx, cs.CoreV1().ConfigMaps(o.Namespace), &corev1.ConfigMap{ObjectMeta: meta(w.configMap, o.Namespace, nil),
				Data: map[string]string{w.confKey: string(conf)}})
		},
		func() error {
			return apply(ctx, cs.CoreV1().ConfigMaps(o.Namespace), &corev1.ConfigMap{ObjectMeta: meta(ConfigMapCA, o.Namespace, nil),
				Data: map[string]string{"ca.crt": string(info.CAPEM)}})
		},
		func() error {
			rollout["reachgate.dev/config-sha256"] = digest(conf)
			return apply(ctx, cs.AppsV1().Deployments(o.Namespace), w.deployment(o.Namespace, o.Replicas, l7, l7, rollout))
		},
		func() error {
			return apply(ctx, cs.CoreV1().Services(o.Namespace), w.service(o.Namespace, addr.String(), true))
		},
	}
	for _, f := range objs {
		if err := f(); err != nil {
			return nil, err
		}
	}
	o.Log.Info("proxy objects applied", "proxy", o.Proxy, "deployment", w.name, "replicas", o.Replicas)
	kc, err := kubeconfig.Create(ctx, cs, kubeconfig.Request{Namespace: o.Namespace, ServiceAccount: ServiceAccount,
		ClusterRole: ClusterRoleName, Rules: kubeconfig.NodeReader, NamespaceRules: clusterInfoAccess, TokenTTL: o.TokenTTL, ClusterName: info.Name,
		Server: res.Server, CAPEM: res.CAPEM, TLSServerName: res.TLSServerName})
	if err != nil {
		return nil, err
	}
	res.Kubeconfig, res.Token, res.Expires = kc.Kubeconfig, kc.Token, kc.Expires
	if err := waitReady(ctx, cs, o.Namespace, w.name, addr, o.Replicas); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	o.Log.Info("ilb-proxy ready", "server", res.Server, "proxy", o.Proxy, "seconds", fmt.Sprintf("%.1f", res.Seconds))
	return res, nil
}

// serve creates the proxy's TLS Secret: a certificate for the ILB address from a CA of the
// solution's own, and returns that CA for the kubeconfig.
func serve(ctx context.Context, cs kubernetes.Interface, o Options, addr netip.Addr) (caPEM, certPEM []byte, err error) {
	// Re-applying keeps a certificate that still fits, so running proxies need no restart.
	if cur, err := cs.CoreV1().Secrets(o.Namespace).Get(ctx, SecretTLS, metav1.GetOptions{}); err == nil && certFits(cur.Data, addr) {
		return cur.Data["ca.crt"], cur.Data[corev1.TLSCertKey], nil
	}
	ca, err := pki.NewCA("reachgate ilb-proxy CA", 5*365*24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := ca.Issue(pki.CertSpec{CommonName: addr.String(), IPs: []net.IP{net.IP(addr.AsSlice())},
		DNSNames: []string{"kubernetes.default"}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: 365 * 24 * time.Hour})
	if err != nil {
		return nil, nil, err
	}
	sec := &corev1.Secret{ObjectMeta: meta(SecretTLS, o.Namespace, nil), Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: leaf.CertPEM, corev1.TLSPrivateKeyKey: leaf.KeyPEM, "ca.crt": ca.CertPEM}}
	if err := apply(ctx, cs.CoreV1().Secrets(o.Namespace), sec); err != nil {
		return nil, nil, err
	}
	return ca.CertPEM, leaf.CertPEM, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// deleteWorkload removes one implementation's Service, Deployment and config.
func deleteWorkload(ctx context.Context, cs kubernetes.Interface, ns string, w workload) error {
	var errs []error
	for _, err := range []error{
		cs.CoreV1().Services(ns).Delete(ctx, w.name, metav1.DeleteOptions{}),
		cs.AppsV1().Deployments(ns).Delete(ctx, w.name, metav1.DeleteOptions{}),
		cs.CoreV1().ConfigMaps(ns).Delete(ctx, w.configMap, metav1.DeleteOptions{}),
	} {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// certFits reports whether a TLS Secret's certificate chains to its ca.crt, covers addr and
// is valid for at least 30 more days.
func certFits(data map[string][]byte, addr netip.Addr) bool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data["ca.crt"]) {
		return false
	}
	block, _ := pem.Decode(data[corev1.TLSCertKey])
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: addr.String(), CurrentTime: time.Now().Add(30 * 24 * time.Hour)})
	return err == nil
}

func waitReady(ctx context.Context, cs kubernetes.Interface, ns, name string, addr netip.Addr, replicas int32) error {
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		d, derr := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		s, serr := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if derr == nil && serr == nil {
			ip := ""
			if len(s.Status.LoadBalancer.Ingress) > 0 {
				ip = s.Status.LoadBalancer.Ingress[0].IP
			}
			rolled := d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == replicas
			if rolled && d.Status.AvailableReplicas >= replicas && ip == addr.String() {
				return nil
			}
			last = fmt.Sprintf("deployment %d/%d available, service EXTERNAL-IP %q", d.Status.AvailableReplicas, replicas, ip)
		} else {
			last = errors.Join(derr, serr).Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("ilb-proxy not ready after 90s: %s", last)
}

// Remove deletes everything Apply created and waits until the proxies are gone.
func Remove(ctx context.Context, env provider.Environment, o Options) error {
	o.defaults()
	cs, cl, err := clients(env)
	if err != nil {
		return err
	}
	var errs []error
	del := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	for _, p := range Proxies {
		del(deleteWorkload(ctx, cs, o.Namespace, workloadFor(p)))
	}
	errs = append(errs, removeSeed(ctx, cs, o.Namespace)...)
	del(cs.CoreV1().ConfigMaps(o.Namespace).Delete(ctx, ConfigMapCA, metav1.DeleteOptions{}))
	del(cs.CoreV1().Secrets(o.Namespace).Delete(ctx, SecretTLS, metav1.DeleteOptions{}))
	del(kubeconfig.Delete(ctx, cs, kubeconfig.Request{Namespace: o.Namespace, ServiceAccount: ServiceAccount, ClusterRole: ClusterRoleName,
		NamespaceRules: clusterInfoAccess}))
	if info, err := cl.Cluster(ctx); err == nil {
		del(cl.ReleaseAddress(ctx, info.Region, AddressName))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The Deployment's pods go with it (garbage collection); wait so the next Apply starts clean.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		pods, err := cs.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app in (nginx,reachgate-proxy)"})
		if err == nil && len(pods.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return errors.New("ilb-proxy pods still present 60s after removal")
}

// CloudFootprint lists the cloud resources the solution stands on: the static internal
// address it reserves, and what GKE creates for an internal passthrough LoadBalancer Service
// (forwarding rule, backend service, health check, and the firewall rules for the clients and
// the health checks).
func (r *Result) CloudFootprint() []string {
	return []string{"address/" + AddressName, "forwardingRule (internal LB of the proxy Service)", "backendService (internal LB)",
		"healthCheck (internal LB)", "firewall k8s-fw (clients to the proxies)", "firewall k8s health checks"}
}
