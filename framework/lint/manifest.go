package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"reachgate/framework/findings"
)

// doc is one YAML document of a manifest file.
type doc struct {
	file  string
	lines []string
	node  *yaml.Node // the document's top mapping
	kind  string
	obj   any // *corev1.Service, *rbacv1.ClusterRoleBinding, … for the kinds checked; nil otherwise
}

var reYAMLLine = regexp.MustCompile(`line (\d+)`)

// yamlError turns a YAML syntax error into an input error with its line.
func yamlError(file string, err error) *InputError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := reYAMLLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(strings.Replace(msg, m[0], "", 1), ": ")
	}
	return &InputError{File: file, Line: line, Msg: "invalid YAML: " + msg + " (fix the indentation or quoting on this line)"}
}

// parseManifests reads every document of a (multi-document) YAML file.
func parseManifests(file string, data []byte) (docs []*doc, ierr *InputError) {
	defer func() {
		if r := recover(); r != nil {
			docs, ierr = nil, &InputError{File: file, Line: 1, Msg: fmt.Sprintf("the YAML parser failed: %v", r)}
		}
	}()
	if strings.HasSuffix(file, ".tmpl") {
		data = untemplate(data)
	}
	lines := strings.Split(string(data), "\n")
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, yamlError(file, err)
		}
		if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
			continue
		}
		d := &doc{file: file, lines: lines, node: root.Content[0]}
		if n := d.find("kind"); n != nil {
			d.kind = n.Value
		}
		var target any
		switch d.kind {
		case "Service":
			target = &corev1.Service{}
		case "Secret":
			target = &corev1.Secret{}
		case "PersistentVolumeClaim":
			target = &corev1.PersistentVolumeClaim{}
		case "Deployment":
			target = &appsv1.Deployment{}
		case "ClusterRole":
			target = &rbacv1.ClusterRole{}
		case "ClusterRoleBinding":
			target = &rbacv1.ClusterRoleBinding{}
		case "RoleBinding":
			target = &rbacv1.RoleBinding{}
		}
		if target != nil {
			var m any
			if err := d.node.Decode(&m); err != nil {
				return nil, &InputError{File: file, Line: d.node.Line, Msg: fmt.Sprintf("%s: %v", d.kind, err)}
			}
			raw, err := json.Marshal(m)
			if err == nil {
				err = json.Unmarshal(raw, target)
			}
			if err != nil {
				return nil, &InputError{File: file, Line: d.node.Line, Msg: fmt.Sprintf("%s does not match the Kubernetes schema: %v (check field names and types)", d.kind, err)}
			}
			d.obj = target
		}
		docs = append(docs, d)
	}
}

// find returns the node at path (mapping keys as strings, sequence indexes as ints), or nil.
func (d *doc) find(path ...any) *yaml.Node {
	n := d.node
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return nil
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
					break
				}
			}
			if next == nil {
				return nil
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return nil
			}
			n = n.Content[k]
		}
	}
	return n
}

// line returns the line of the value at path, or of its nearest present ancestor.
func (d *doc) line(path ...any) int {
	for i := len(path); i >= 0; i-- {
		if n := d.find(path[:i]...); n != nil {
			return n.Line
		}
	}
	return d.node.Line
}

func (d *doc) evidence(path ...any) findings.Evidence {
	l := d.line(path...)
	return findings.Evidence{File: d.file, Line: l, Text: lineText(d.lines, l)}
}

func ns(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// manifestDetectors are the checks of Kubernetes manifests, by the name the catalog uses.
// They see every document of the run, so references across files resolve.
var manifestDetectors = map[string]func([]*doc) []findings.Finding{
	"lint.manifestClusterAdmin": manifestClusterAdmin,
	"lint.manifestMissingRole":  manifestMissingRole,
	"lint.manifestLegacyToken":  manifestLegacyToken,
	"lint.manifestKubernetesLB": manifestKubernetesLB,
	"lint.manifestGlobalAccess": manifestGlobalAccess,
	"lint.manifestRWOReplicas":  manifestRWOReplicas,
}

func runManifests(docs []*doc) []findings.Finding {
	var out []findings.Finding
	for _, name := range sortedKeys(manifestDetectors) {
		out = append(out, manifestDetectors[name](docs)...)
	}
	return out
}

// rbacOf wraps one binding document for the shared RBAC detectors.
func rbacOf(d *doc) (findings.RBAC, bool) {
	switch b := d.obj.(type) {
	case *rbacv1.ClusterRoleBinding:
		return findings.RBAC{ClusterRoleBindings: []rbacv1.ClusterRoleBinding{*b}}, true
	case *rbacv1.RoleBinding:
		b.Namespace = ns(b.Namespace)
		return findings.RBAC{RoleBindings: []rbacv1.RoleBinding{*b}}, true
	}
	return findings.RBAC{}, false
}

func at(fs []findings.Finding, ev findings.Evidence) []findings.Finding {
	for i := range fs {
		fs[i].Evidence = ev
	}
	return fs
}

func manifestClusterAdmin(docs []*doc) []findings.Finding {
	var out []findings.Finding
	for _, d := range docs {
		if r, ok := rbacOf(d); ok {
			out = append(out, at(findings.DetectClusterAdminBinding(r), d.evidence("roleRef", "name"))...)
		}
	}
	return out
}

func manifestMissingRole(docs []*doc) []findings.Finding {
	defined := map[string]bool{}
	for _, d := range docs {
		if r, ok := d.obj.(*rbacv1.ClusterRole); ok {
			defined[r.Name] = true
		}
	}
	var out []findings.Finding
	for _, d := range docs {
		r, ok := rbacOf(d)
		if !ok {
			continue
		}
		ref := rbacv1.RoleRef{}
		if len(r.ClusterRoleBindings) > 0 {
			ref = r.ClusterRoleBindings[0].RoleRef
		} else {
			ref = r.RoleBindings[0].RoleRef
		}
		if defined[ref.Name] {
			continue // created by the same set of manifests
		}
		// Nil ClusterRoles: the cluster's default roles.
		out = append(out, at(findings.DetectMissingClusterRole(r), d.evidence("roleRef", "name"))...)
	}
	return out
}

func manifestLegacyToken(docs []*doc) []findings.Finding {
	var out []findings.Finding
	for _, d := range docs {
		if s, ok := d.obj.(*corev1.Secret); ok && s.Type == corev1.SecretTypeServiceAccountToken {
			out = append(out, findings.New("RG-TOKEN-002", d.evidence("type"), "Secret %s/%s of type %s holds a token that never expires", ns(s.Namespace), s.Name, s.Type))
		}
	}
	return out
}

func manifestKubernetesLB(docs []*doc) []findings.Finding {
	var out []findings.Finding
	for _, d := range docs {
		if s, ok := d.obj.(*corev1.Service); ok {
			c := *s
			c.Namespace = ns(c.Namespace)
			out = append(out, at(findings.DetectKubernetesServiceExposed(c), d.evidence("spec", "type"))...)
		}
	}
	return out
}

// Annotations of GKE internal load balancers.
const (
	annLBType       = "networking.gke.io/load-balancer-type"
	annLBTypeLegacy = "cloud.google.com/load-balancer-type"
	annGlobalAccess = "networking.gke.io/internal-load-balancer-allow-global-access"
)

func manifestGlobalAccess(docs []*doc) []findings.Finding {
	var out []findings.Finding
	for _, d := range docs {
		s, ok := d.obj.(*corev1.Service)
		if !ok || s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		key := annLBType
		if s.Annotations[key] == "" {
			key = annLBTypeLegacy
		}
		if !strings.EqualFold(s.Annotations[key], "Internal") || s.Annotations[annGlobalAccess] == "true" {
			continue
		}
		out = append(out, findings.New("RG-NET-002", d.evidence("metadata", "annotations", key),
			"internal LoadBalancer Service %s/%s has no %s: clients in other regions (VPN, interconnect) cannot reach it", ns(s.Namespace), s.Name, annGlobalAccess))
	}
	return out
}

func manifestRWOReplicas(docs []*doc) []findings.Finding {
	rwo := map[string]bool{} // namespace/name
	for _, d := range docs {
		if p, ok := d.obj.(*corev1.PersistentVolumeClaim); ok {
			for _, m := range p.Spec.AccessModes {
				if m == corev1.ReadWriteOnce || m == corev1.ReadWriteOncePod {
					rwo[ns(p.Namespace)+"/"+p.Name] = true
				}
			}
		}
	}
	var out []findings.Finding
	for _, d := range docs {
		dep, ok := d.obj.(*appsv1.Deployment)
		if !ok || dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
			continue
		}
		for i, v := range dep.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && rwo[ns(dep.Namespace)+"/"+v.PersistentVolumeClaim.ClaimName] {
				out = append(out, findings.New("RG-K8S-001", d.evidence("spec", "template", "spec", "volumes", i, "persistentVolumeClaim", "claimName"),
					"Deployment %s has %d replicas on ReadWriteOnce claim %s: only one node can mount it", dep.Name, *dep.Spec.Replicas, v.PersistentVolumeClaim.ClaimName))
			}
		}
	}
	return out
}
