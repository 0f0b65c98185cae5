// Package lint checks, without a cluster, the files teams copy when they reach a private GKE
// control plane: nginx configurations, kubeconfigs and kubeconfig templates, Kubernetes
// manifests (multi-document YAML), shell scripts with kubectl and openssl commands, and
// reachgate topology files. Every check reports an entry of reachgate/framework/findings
// with the file and line that shows it.
package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"reachgate/framework/findings"
)

// Kind is what a file is, which decides the checks it gets.
type Kind string

// File kinds.
const (
	KindNginx      Kind = "nginx"
	KindShell      Kind = "shell"
	KindKubeconfig Kind = "kubeconfig"
	KindManifest   Kind = "manifest"
	KindTopology   Kind = "topology"
	KindUnknown    Kind = ""
)

// Options tune a run.
type Options struct {
	// NginxPrefix resolves relative nginx include paths (default: the including file's directory).
	NginxPrefix string
}

// InputError is a file that could not be read or parsed: lint cannot judge it.
type InputError struct {
	File string
	Line int
	Msg  string
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// FileResult is what one file gave.
type FileResult struct {
	File     string
	Kind     Kind
	Findings []findings.Finding
	Err      *InputError
}

// Result is a whole run: one entry per file linted, in path order.
type Result struct {
	Files []FileResult
}

// Findings returns every finding, sorted by file, line and ID.
func (r *Result) Findings() []findings.Finding {
	var out []findings.Finding
	for _, f := range r.Files {
		out = append(out, f.Findings...)
	}
	findings.Sort(out)
	return out
}

// Errors returns the input errors.
func (r *Result) Errors() []*InputError {
	var out []*InputError
	for _, f := range r.Files {
		if f.Err != nil {
			out = append(out, f.Err)
		}
	}
	return out
}

// Paths lints files and directories; a directory is walked recursively and its files of an
// unknown kind are skipped, while a file named explicitly must be of a known kind.
func Paths(paths []string, o Options) (*Result, error) {
	var files []string
	explicit := map[string]bool{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, &InputError{File: p, Msg: fmt.Sprintf("cannot read: %v (check the path)", errors.Unwrap(err))}
		}
		if !st.IsDir() {
			files = append(files, p)
			explicit[p] = true
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, &InputError{File: p, Msg: fmt.Sprintf("cannot walk: %v", err)}
		}
	}
	sort.Strings(files)
	var inputs []Input
	res := &Result{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			res.Files = append(res.Files, FileResult{File: f, Err: &InputError{File: f, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}})
			continue
		}
		k := Classify(f, data)
		if k == KindUnknown {
			if explicit[f] {
				res.Files = append(res.Files, FileResult{File: f, Err: &InputError{File: f, Msg: "cannot tell what kind of file this is (name nginx configurations *.conf, manifests and kubeconfigs *.yaml, scripts *.sh)"}})
			}
			continue
		}
		inputs = append(inputs, Input{File: f, Kind: k, Data: data})
	}
	r := Inputs(inputs, o)
	res.Files = append(res.Files, r.Files...)
	sort.SliceStable(res.Files, func(i, j int) bool { return res.Files[i].File < res.Files[j].File })
	return res, nil
}

// Input is one file to lint.
type Input struct {
	File string
	Kind Kind // KindUnknown: Classify decides
	Data []byte
}

// Inputs lints files already read. Checks that need several files (a binding and the
// ClusterRole it names, a Deployment and its PVC) see all the manifests of the run.
func Inputs(in []Input, o Options) *Result {
	res := &Result{}
	var docs []*doc
	var manifestFiles []int
	for _, f := range in {
		k := f.Kind
		if k == KindUnknown {
			k = Classify(f.File, f.Data)
		}
		fr := FileResult{File: f.File, Kind: k}
		switch k {
		case KindNginx:
			cfg, err := parseNginx(f.File, f.Data, o)
			if err != nil {
				fr.Err = err
				break
			}
			fr.Findings = runNginx(cfg)
		case KindShell:
			fr.Findings = runShell(parseShell(f.File, f.Data))
		case KindKubeconfig:
			fr.Findings = runKubeconfig(parseKubeconfig(f.File, f.Data))
		case KindTopology:
			t, err := parseTopology(f.File, f.Data)
			if err != nil {
				fr.Err = err
				break
			}
			fr.Findings = runTopology(t)
		case KindManifest:
			ds, err := parseManifests(f.File, f.Data)
			if err != nil {
				fr.Err = err
				break
			}
			docs = append(docs, ds...)
			manifestFiles = append(manifestFiles, len(res.Files))
		default:
			fr.Err = &InputError{File: f.File, Msg: "unknown kind of file"}
		}
		res.Files = append(res.Files, fr)
	}
	// Manifests are judged together, then their findings go back to their files.
	byFile := map[string][]findings.Finding{}
	for _, fd := range runManifests(docs) {
		byFile[fd.Evidence.File] = append(byFile[fd.Evidence.File], fd)
	}
	for _, i := range manifestFiles {
		res.Files[i].Findings = byFile[res.Files[i].File]
	}
	for i := range res.Files {
		findings.Sort(res.Files[i].Findings)
	}
	return res
}

var (
	reYAMLName = regexp.MustCompile(`\.(ya?ml|json)(\.tmpl)?$`)
	reConfName = regexp.MustCompile(`(\.conf|\.conf\.tmpl|nginx\.conf.*)$`)
	reKubeconf = regexp.MustCompile(`(?i)(^|[./_-])kubeconfig([./_-]|$)`)
	reKindLine = regexp.MustCompile(`(?m)^kind:\s*(\S+)`)
	reTopoAPI  = regexp.MustCompile(`(?m)^apiVersion:\s*reachgate\.dev/`)
)

// Classify tells a file's kind from its name, then its content.
func Classify(name string, data []byte) Kind {
	base := filepath.Base(name)
	switch {
	case reKubeconf.MatchString(base) || base == "config" && reKindLine.Match(data) && kindOf(data) == "Config":
		return KindKubeconfig
	case strings.HasSuffix(base, ".sh") || strings.HasPrefix(string(data), "#!") && strings.Contains(firstLineOf(data), "sh"):
		return KindShell
	case reConfName.MatchString(base):
		return KindNginx
	case reYAMLName.MatchString(base):
		switch {
		case reTopoAPI.Match(data):
			return KindTopology
		case kindOf(data) == "Config":
			return KindKubeconfig
		}
		return KindManifest
	}
	return KindUnknown
}

func kindOf(data []byte) string {
	if m := reKindLine.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}

func firstLineOf(data []byte) string {
	s := string(data)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// reTemplate matches Go template actions, which may span lines.
var reTemplate = regexp.MustCompile(`\{\{[^}]*\}\}`)

// untemplate replaces Go template actions with a placeholder word, keeping line numbers.
func untemplate(data []byte) []byte {
	return reTemplate.ReplaceAllFunc(data, func(m []byte) []byte {
		return []byte(Placeholder + strings.Repeat("\n", strings.Count(string(m), "\n")))
	})
}

// Placeholder stands for a template's value while a template is checked.
const Placeholder = "TEMPLATE_VALUE"

// lineText returns line n (1-based) of data, trimmed, for evidence.
func lineText(lines []string, n int) string {
	if n < 1 || n > len(lines) {
		return ""
	}
	s := strings.TrimSpace(lines[n-1])
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
