package lint

import (
	"strings"

	"reachgate/framework/findings"
)

// shellDetectors are the checks of shell scripts, by the name the catalog uses.
var shellDetectors = map[string]func(*Script) []findings.Finding{
	"lint.shellClusterAdmin":    shellClusterAdmin,
	"lint.shellMissingRole":     shellMissingRole,
	"lint.shellSecretsIndex":    shellSecretsIndex,
	"lint.shellLegacyToken":     shellLegacyToken,
	"lint.shellPatchKubernetes": shellPatchKubernetes,
	"lint.shellSelfSigned":      shellSelfSigned,
	"lint.shellCertSAN":         shellCertSAN,
	"lint.shellKeyBundle":       shellKeyBundle,
}

func runShell(s *Script) []findings.Finding {
	var out []findings.Finding
	for _, name := range sortedKeys(shellDetectors) {
		out = append(out, shellDetectors[name](s)...)
	}
	return out
}

func (s *Script) evidence(c Command) findings.Evidence {
	return findings.Evidence{File: s.File, Line: c.Line, Text: lineText(s.Lines, c.Line)}
}

// bindings returns the `kubectl create clusterrolebinding|rolebinding` commands.
func (s *Script) bindings() []Command {
	var out []Command
	for _, c := range s.Commands {
		if c.is("kubectl", "create", "clusterrolebinding") || c.is("kubectl", "create", "rolebinding") {
			out = append(out, c)
		}
	}
	return out
}

func shellClusterAdmin(s *Script) []findings.Finding {
	var out []findings.Finding
	for _, c := range s.bindings() {
		role, _ := c.flag("--clusterrole")
		sa, hasSA := c.flag("--serviceaccount")
		if role == "cluster-admin" && hasSA {
			out = append(out, findings.New("RG-RBAC-001", s.evidence(c), "ServiceAccount %s is bound to cluster-admin", sa))
		}
	}
	return out
}

func shellMissingRole(s *Script) []findings.Finding {
	created := map[string]bool{}
	for _, c := range s.Commands {
		if c.is("kubectl", "create", "clusterrole") {
			// The name is the first word after "clusterrole" that is not a flag.
			after := false
			for i := 0; i < len(c.Words); i++ {
				w := c.Words[i]
				switch {
				case strings.HasPrefix(w, "-"):
					if takesValue(w) {
						i++
					}
				case after:
					created[w] = true
					i = len(c.Words)
				case w == "clusterrole":
					after = true
				}
			}
		}
	}
	var out []findings.Finding
	for _, c := range s.bindings() {
		role, ok := c.flag("--clusterrole")
		if ok && !findings.DefaultClusterRole(role) && !created[role] {
			out = append(out, findings.New("RG-RBAC-002", s.evidence(c), "ClusterRole %q does not exist by default and the script does not create it: the binding grants nothing", role))
		}
	}
	return out
}

func shellSecretsIndex(s *Script) []findings.Finding {
	var out []findings.Finding
	for _, c := range s.Commands {
		if len(c.Words) > 0 && c.Words[0] == "kubectl" && c.contains(".secrets[0]") {
			out = append(out, findings.New("RG-TOKEN-001", s.evidence(c), "`.secrets[0]` of a ServiceAccount is empty on Kubernetes >= 1.24: no token Secret is created"))
		}
	}
	return out
}

func shellLegacyToken(s *Script) []findings.Finding {
	var out []findings.Finding
	for _, c := range s.Commands {
		if !c.is("kubectl", "get") || !c.contains(".data.token") {
			continue
		}
		if c.contains("secret") {
			out = append(out, findings.New("RG-TOKEN-002", s.evidence(c), "the token is read from a service-account-token Secret: it never expires"))
		}
	}
	return out
}

func shellPatchKubernetes(s *Script) []findings.Finding {
	var out []findings.Finding
	for _, c := range s.Commands {
		for _, verb := range []string{"patch", "edit"} {
			if ns, ok := c.flag("-n", "--namespace"); ok && ns != "default" {
				continue
			}
			if c.is("kubectl", verb, "svc", "kubernetes") || c.is("kubectl", verb, "service", "kubernetes") || c.is("kubectl", verb, "services", "kubernetes") ||
				c.is("kubectl", verb, "svc/kubernetes") || c.is("kubectl", verb, "service/kubernetes") {
				out = append(out, findings.New("RG-SVC-001", s.evidence(c), "`kubectl %s` of default/kubernetes: the API server owns that Service", verb))
			}
		}
	}
	return out
}

// selfSignedServerCerts returns the `openssl req -x509` commands whose output is not used as a CA
// (-CA FILE) later in the script: self-signed server certificates.
func (s *Script) selfSignedServerCerts() []Command {
	usedAsCA := map[string]bool{}
	for _, c := range s.Commands {
		if len(c.Words) > 0 && c.Words[0] == "openssl" {
			if ca, ok := c.flag("-CA"); ok {
				usedAsCA[ca] = true
			}
		}
	}
	var out []Command
	for _, c := range s.Commands {
		if !c.is("openssl", "req") || !c.has("-x509") {
			continue
		}
		if o, _ := c.flag("-out"); usedAsCA[o] {
			continue
		}
		out = append(out, c)
	}
	return out
}

func shellSelfSigned(s *Script) []findings.Finding {
	var out []findings.Finding
	for _, c := range s.selfSignedServerCerts() {
		o, _ := c.flag("-out")
		out = append(out, findings.New("RG-TLS-002", s.evidence(c), "%s is self-signed: a kubeconfig carrying the cluster CA does not trust it", o))
	}
	return out
}

func hasSAN(c Command) bool {
	for i, w := range c.Words {
		if (w == "-addext" || w == "-extfile" || w == "-extensions" || w == "-config" || w == "-copy_extensions") && i+1 < len(c.Words) {
			return true
		}
		if strings.Contains(w, "subjectAltName") {
			return true
		}
	}
	return false
}

func shellCertSAN(s *Script) []findings.Finding {
	var out []findings.Finding
	cands := s.selfSignedServerCerts()
	for _, c := range s.Commands {
		if c.is("openssl", "x509") && c.has("-req") {
			cands = append(cands, c)
		}
	}
	for _, c := range cands {
		if !hasSAN(c) {
			subj, _ := c.flag("-subj")
			if subj == "" {
				subj = "the prompted subject"
			}
			out = append(out, findings.New("RG-TLS-004", s.evidence(c), "certificate with %s and no subjectAltName: kubectl rejects it", subj))
		}
	}
	return out
}

func shellKeyBundle(s *Script) []findings.Finding {
	var out []findings.Finding
	for _, c := range s.Commands {
		if len(c.Words) == 0 || c.Words[0] != "cat" || !c.has(">") && !c.has(">>") {
			continue
		}
		key, cert := false, false
		for _, w := range c.Words[1:] {
			if w == ">" || w == ">>" {
				break
			}
			key = key || strings.HasSuffix(w, ".key")
			cert = cert || strings.HasSuffix(w, ".crt") || strings.HasSuffix(w, ".pem")
		}
		if key && cert {
			target, _ := c.flag(">", ">>")
			out = append(out, findings.New("RG-TLS-005", s.evidence(c), "%s holds the private key next to the certificate clients are given", target))
		}
	}
	return out
}
