// Package solution holds what the solutions (ilbproxy, bgpexport, pscendpoint, dnsendpoint)
// share: reaching an environment's cluster as an administrator and its cloud, the record of
// what Apply changed, and the third-party client's uplink.
package solution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/framework/kubeconfig"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
)

// Clients returns an admin clientset for env's cluster and env's cloud.
func Clients(env provider.Environment) (kubernetes.Interface, provider.Cloud, error) {
	ka, ok := env.(provider.KubeAdmin)
	if !ok {
		return nil, nil, errors.New("the provider gives no admin access to the cluster")
	}
	ca, ok := env.(provider.CloudAccess)
	if !ok {
		return nil, nil, errors.New("the provider has no cloud API")
	}
	cfg, err := ka.AdminConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, ca.Cloud(), err
}

// CloudWith is Clients with the cloud's ability T, which the solution needs (missing says
// what T does, for the error).
func CloudWith[T any](env provider.Environment, missing string) (kubernetes.Interface, provider.Cloud, T, error) {
	var zero T
	cs, cl, err := Clients(env)
	if err != nil {
		return nil, nil, zero, err
	}
	t, ok := cl.(T)
	if !ok {
		return nil, nil, zero, errors.New(missing)
	}
	return cs, cl, t, nil
}

// ReadRecord returns what a solution recorded in ConfigMap kube-system/name under key, or nil
// when there is no record.
func ReadRecord[T any](ctx context.Context, cs kubernetes.Interface, name, key string) (*T, error) {
	cm, err := cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read configmap %s: %w", name, err)
	}
	var v T
	if err := json.Unmarshal([]byte(cm.Data[key]), &v); err != nil {
		return nil, fmt.Errorf("configmap %s/%s key %s: %w (delete it if it was edited by hand)", metav1.NamespaceSystem, name, key, err)
	}
	return &v, nil
}

// WriteRecord stores v in ConfigMap kube-system/name under key, so Remove can undo exactly it.
func WriteRecord(ctx context.Context, cs kubernetes.Interface, name, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "reachgate"}}, Data: map[string]string{key: string(data)}}
	_, err = cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Create(ctx, cm, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("record changes in configmap %s: %w", name, err)
	}
	return nil
}

// DeleteRecord deletes ConfigMap kube-system/name; a missing one is not an error.
func DeleteRecord(ctx context.Context, cs kubernetes.Interface, name string) error {
	err := cs.CoreV1().ConfigMaps(metav1.NamespaceSystem).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete configmap %s: %w", name, err)
	}
	return nil
}

// Uplink is the third-party client a solution serves and where its traffic enters GCP.
type Uplink struct {
	Client *topology.Machine
	Source netip.Prefix // the client's subnet range
	// Network and Router are the GCP side of the interconnect or VPN of the client's VPC.
	Network, Router string
}

// ThirdPartyUplink finds t's first third-party client and the Cloud Router its traffic
// enters GCP by; solution names the caller, for the error.
func ThirdPartyUplink(t *topology.Topology, solution string) (Uplink, error) {
	clients := t.HostsWithRole(topology.RoleThirdPartyClient)
	if len(clients) == 0 {
		return Uplink{}, t.RequireRoles(solution, topology.RoleThirdPartyClient)
	}
	h := clients[0]
	u := Uplink{Client: h}
	if n := t.Network(h.VPC); n != nil {
		if s := n.Subnet(h.Subnet); s != nil {
			u.Source = s.CIDR
		}
	}
	if !u.Source.IsValid() {
		return u, fmt.Errorf("%s: host %s's subnet %s is not in VPC %s", t.Source, h.Name, h.Subnet, h.VPC)
	}
	up := t.Uplink(h.VPC)
	if up == nil {
		return u, fmt.Errorf("%s: no interconnect or VPN joins %s's VPC %s to GCP (add a link of type interconnect or vpn)", t.Source, h.Name, h.VPC)
	}
	side := up.B
	if t.Network(up.A.VPC).GCP() {
		side = up.A
	}
	u.Network, u.Router = side.VPC, side.Router
	return u, nil
}

// Options are what the access solutions without variants (pscendpoint, dnsendpoint) take.
type Options struct {
	TokenTTL  time.Duration // of the third-party VM's ServiceAccount token; default 24h
	Namespace string        // of the ServiceAccount; default "default"
	Log       *slog.Logger
}

// Defaults fills what o leaves out.
func (o *Options) Defaults() {
	if o.TokenTTL == 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// WithRange is advertisement a that also announces r: a CUSTOM advertisement keeps its groups
// and ranges; any other becomes CUSTOM with ALL_SUBNETS (what DEFAULT announced) plus r.
func WithRange(a topology.Advertisement, r netip.Prefix) topology.Advertisement {
	out := topology.Advertisement{Mode: topology.AdvertiseCustom, Groups: []string{topology.GroupAllSubnets}}
	if a.Mode == topology.AdvertiseCustom {
		out = topology.Advertisement{Mode: a.Mode, Groups: slices.Clone(a.Groups), Ranges: slices.Clone(a.Ranges)}
	}
	out.Ranges = append(out.Ranges, r)
	return out
}

// Wrap prefixes err with what was being done; nil stays nil.
func Wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// FinishRemove deletes the third-party VM's access (access) and, when errs (the restores
// before) and that all succeeded, the record: a failed Remove keeps it, so a second one retries.
func FinishRemove(ctx context.Context, cs kubernetes.Interface, access kubeconfig.Request, record string, errs []error) error {
	errs = append(errs, kubeconfig.Delete(ctx, cs, access))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return DeleteRecord(ctx, cs, record)
}

// ReaderAccess is the third-party VM's identity in the cluster for a solution: ServiceAccount
// sa in o.Namespace, bound to ClusterRole role that reads nodes, and what cluster-info reads.
func ReaderAccess(o Options, sa, role string) kubeconfig.Request {
	return kubeconfig.Request{Namespace: o.Namespace, ServiceAccount: sa, ClusterRole: role,
		Rules: kubeconfig.NodeReader, NamespaceRules: kubeconfig.ClusterInfoAccess, TokenTTL: o.TokenTTL}
}
