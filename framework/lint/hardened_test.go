package lint

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"reachgate/fixtures"
	"reachgate/framework/kubeconfig"
	"reachgate/framework/solution/ilbproxy"
)

var update = flag.Bool("update", false, "rewrite the golden files and the rendered fixtures in fixtures/hardened")

const (
	seedDir     = "../../fixtures/seed"
	hardenedDir = "../../fixtures/hardened"
	// The sample environment the hardened fixtures are rendered for: the article's ILB
	// address and the seed topology's private endpoint.
	sampleAddress  = "10.128.0.28"
	sampleEndpoint = "192.168.32.34"
)

// hardenedRequest is the kubeconfig request ilbproxy.Apply makes for the hardened variant.
func hardenedRequest(t *testing.T) kubeconfig.Request {
	ca, err := os.ReadFile(filepath.Join(hardenedDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return kubeconfig.Request{Namespace: "default", ServiceAccount: ilbproxy.ServiceAccount, ClusterRole: ilbproxy.ClusterRoleName,
		Rules: kubeconfig.NodeReader, NamespaceRules: map[string][]rbacv1.PolicyRule{"kube-system": kubeconfig.ClusterInfoRules},
		TokenTTL: 24 * time.Hour, ClusterName: "private-cluster", Server: "https://" + sampleAddress, CAPEM: ca}
}

// renderedRBAC is what kubeconfig.Create makes for the hardened request, as YAML documents.
func renderedRBAC(t *testing.T) []byte {
	ctx := context.Background()
	cs := fake.NewClientset()
	// The fake has no TokenRequest: the objects are made before the token is asked for.
	_, _ = kubeconfig.Create(ctx, cs, hardenedRequest(t))
	var objs []runtime.Object
	sas, _ := cs.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
	for i := range sas.Items {
		o := &sas.Items[i]
		o.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}
		o.ObjectMeta = clean(o.ObjectMeta)
		objs = append(objs, o)
	}
	crs, _ := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	for i := range crs.Items {
		o := &crs.Items[i]
		o.TypeMeta = metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}
		o.ObjectMeta = clean(o.ObjectMeta)
		objs = append(objs, o)
	}
	crbs, _ := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	for i := range crbs.Items {
		o := &crbs.Items[i]
		o.TypeMeta = metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"}
		o.ObjectMeta = clean(o.ObjectMeta)
		objs = append(objs, o)
	}
	roles, _ := cs.RbacV1().Roles("").List(ctx, metav1.ListOptions{})
	for i := range roles.Items {
		o := &roles.Items[i]
		o.TypeMeta = metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}
		o.ObjectMeta = clean(o.ObjectMeta)
		objs = append(objs, o)
	}
	rbs, _ := cs.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
	for i := range rbs.Items {
		o := &rbs.Items[i]
		o.TypeMeta = metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}
		o.ObjectMeta = clean(o.ObjectMeta)
		objs = append(objs, o)
	}
	if len(objs) != 5 {
		t.Fatalf("kubeconfig.Create made %d objects; want ServiceAccount, ClusterRole, ClusterRoleBinding, Role, RoleBinding", len(objs))
	}
	var b bytes.Buffer
	b.WriteString("# What framework/kubeconfig.Create makes for the hardened ilb-proxy (generated: go test ./framework/lint -run TestHardenedFixturesInSync -update).\n")
	for i, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes()
}

func clean(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Labels: m.Labels}
}

// TestHardenedFixturesInSync keeps fixtures/hardened equal to what reachgate's hardened
// solution renders: the nginx template, the kubeconfig and the RBAC objects.
func TestHardenedFixturesInSync(t *testing.T) {
	conf, err := fixtures.Render("nginx/hardened.conf.tmpl", map[string]string{"Endpoint": sampleEndpoint, "Address": sampleAddress})
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(hardenedDir, "token.sample"))
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubeconfig.Render(hardenedRequest(t), strings.TrimSpace(string(token)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"nginx.conf": conf, "kubeconfig": kc, "rbac.yaml": renderedRBAC(t)}
	for name, data := range want {
		path := filepath.Join(hardenedDir, name)
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (generate it with -update)", err)
		}
		if diff := cmp.Diff(string(data), string(got)); diff != "" {
			t.Errorf("%s is out of date with what reachgate renders (-rendered +file), refresh with -update:\n%s", path, diff)
		}
	}
}

// TestHardenedManifestsMatchSolution checks the hand-written Deployment and Service against
// the names and paths the solution and its nginx template use.
func TestHardenedManifestsMatchSolution(t *testing.T) {
	docs := mustManifests(t, filepath.Join(hardenedDir, "deployment.yaml"), filepath.Join(hardenedDir, "service.yaml"))
	conf, err := os.ReadFile(filepath.Join(hardenedDir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *corev1.Service:
			if o.Spec.LoadBalancerIP != sampleAddress {
				t.Errorf("service loadBalancerIP = %q; want %s", o.Spec.LoadBalancerIP, sampleAddress)
			}
		default:
			if d.kind != "Deployment" {
				continue
			}
			dep := d.obj.(interface{ GetName() string })
			if dep.GetName() != "nginx" {
				t.Errorf("deployment name = %q; want nginx", dep.GetName())
			}
			for _, m := range d.find("spec", "template", "spec", "containers", 0, "volumeMounts").Content {
				for i := 0; i+1 < len(m.Content); i += 2 {
					if m.Content[i].Value == "mountPath" {
						mounts = append(mounts, m.Content[i+1].Value)
					}
				}
			}
			if s := d.find("spec", "template", "spec", "volumes", 1, "secret", "secretName"); s == nil || s.Value != ilbproxy.SecretTLS {
				t.Errorf("deployment's TLS volume does not mount Secret %s", ilbproxy.SecretTLS)
			}
		}
	}
	// Every directory the nginx configuration reads from is mounted.
	for _, path := range []string{"/etc/nginx/cert/tls.crt", "/etc/nginx/cluster-ca/ca.crt"} {
		if !bytes.Contains(conf, []byte(path)) {
			t.Errorf("nginx.conf does not read %s", path)
		}
		found := false
		for _, m := range mounts {
			found = found || strings.HasPrefix(path, m+"/")
		}
		if !found {
			t.Errorf("%s is read by nginx.conf but not mounted (mounts %v)", path, mounts)
		}
	}
}

func mustManifests(t *testing.T, files ...string) []*doc {
	t.Helper()
	var out []*doc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ds, ierr := parseManifests(f, data)
		if ierr != nil {
			t.Fatal(ierr)
		}
		out = append(out, ds...)
	}
	return out
}
