package lint

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"reachgate/framework/findings"
)

// kubeconfigFile is a kubeconfig, or a kubeconfig template with its placeholders replaced.
type kubeconfigFile struct {
	file    string
	lines   []string
	doc     *doc        // nil when the YAML does not parse
	yamlErr *InputError // the parse error, reported as a finding
}

// reShellVar matches ${name} and $name, the placeholders of shell-generated kubeconfigs.
var reShellVar = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)

func parseKubeconfig(file string, data []byte) *kubeconfigFile {
	if strings.HasSuffix(file, ".tmpl") || bytes.Contains(data, []byte("{{")) || bytes.Contains(data, []byte("${")) {
		data = untemplate(data)
		data = reShellVar.ReplaceAll(data, []byte(Placeholder))
	}
	k := &kubeconfigFile{file: file, lines: strings.Split(string(data), "\n")}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		k.yamlErr = yamlError(file, err)
		return k
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		k.yamlErr = &InputError{File: file, Line: 1, Msg: "not a YAML mapping"}
		return k
	}
	k.doc = &doc{file: file, lines: k.lines, node: root.Content[0], kind: "Config"}
	return k
}

// kubeconfigDetectors are the checks of kubeconfigs, by the name the catalog uses.
var kubeconfigDetectors = map[string]func(*kubeconfigFile) []findings.Finding{
	"lint.kubeconfigParse":       kubeconfigParse,
	"lint.kubeconfigInsecure":    kubeconfigInsecure,
	"lint.kubeconfigTokenExpiry": kubeconfigTokenExpiry,
}

func runKubeconfig(k *kubeconfigFile) []findings.Finding {
	var out []findings.Finding
	for _, name := range sortedKeys(kubeconfigDetectors) {
		out = append(out, kubeconfigDetectors[name](k)...)
	}
	return out
}

// each calls fn for every entry of a top-level list (clusters, users) with its index.
func (k *kubeconfigFile) each(list string, fn func(i int, n *yaml.Node)) {
	if k.doc == nil {
		return
	}
	seq := k.doc.find(list)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return
	}
	for i, n := range seq.Content {
		fn(i, n)
	}
}

func kubeconfigParse(k *kubeconfigFile) []findings.Finding {
	if k.yamlErr != nil {
		ev := findings.Evidence{File: k.file, Line: k.yamlErr.Line, Text: lineText(k.lines, k.yamlErr.Line)}
		return []findings.Finding{findings.New("RG-KCFG-001", ev, "the kubeconfig is not valid YAML: %s", strings.TrimPrefix(k.yamlErr.Msg, "invalid YAML: "))}
	}
	var out []findings.Finding
	k.each("clusters", func(i int, _ *yaml.Node) {
		n := k.doc.find("clusters", i, "cluster", "certificate-authority-data")
		if n == nil || n.Value == "" || strings.Contains(n.Value, Placeholder) {
			return
		}
		if _, err := base64.StdEncoding.DecodeString(n.Value); err != nil {
			out = append(out, findings.New("RG-KCFG-001", k.doc.evidence("clusters", i, "cluster", "certificate-authority-data"),
				"certificate-authority-data is not base64: %v", err))
		}
	})
	if len(out) == 0 && k.doc.find("clusters") == nil {
		out = append(out, findings.New("RG-KCFG-001", k.doc.evidence(), "the kubeconfig has no clusters"))
	}
	return out
}

func kubeconfigInsecure(k *kubeconfigFile) []findings.Finding {
	var out []findings.Finding
	k.each("clusters", func(i int, _ *yaml.Node) {
		if n := k.doc.find("clusters", i, "cluster", "insecure-skip-tls-verify"); n != nil && n.Value == "true" {
			out = append(out, findings.New("RG-KCFG-002", k.doc.evidence("clusters", i, "cluster", "insecure-skip-tls-verify"), "cluster entry %d skips TLS verification", i))
		}
	})
	return out
}

func kubeconfigTokenExpiry(k *kubeconfigFile) []findings.Finding {
	var out []findings.Finding
	k.each("users", func(i int, _ *yaml.Node) {
		n := k.doc.find("users", i, "user", "token")
		if n == nil {
			return
		}
		name := fmt.Sprint(i)
		if nn := k.doc.find("users", i, "name"); nn != nil {
			name = nn.Value
		}
		out = append(out, at(findings.DetectTokenExpiry(findings.Token{Source: "user " + name, Token: n.Value}),
			k.doc.evidence("users", i, "user", "token"))...)
	})
	return out
}
