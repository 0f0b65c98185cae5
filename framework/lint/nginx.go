package lint

import (
	"errors"
	"strings"

	"reachgate/framework/findings"
	"reachgate/framework/lint/nginxconf"
)

// nginxFile is a parsed nginx configuration with its source lines for evidence.
type nginxFile struct {
	cfg   *nginxconf.Config
	lines map[string][]string // per file read (the main file and its includes)
}

func parseNginx(name string, data []byte, o Options) (*nginxFile, *InputError) {
	if strings.HasSuffix(name, ".tmpl") {
		data = untemplate(data)
	}
	cfg, err := nginxconf.Parse(name, data, nginxconf.Options{Prefix: o.NginxPrefix})
	if err != nil {
		var pe *nginxconf.Error
		if errors.As(err, &pe) {
			return nil, &InputError{File: pe.File, Line: pe.Line, Msg: "nginx: " + pe.Msg}
		}
		return nil, &InputError{File: name, Msg: err.Error()}
	}
	return &nginxFile{cfg: cfg, lines: map[string][]string{name: strings.Split(string(data), "\n")}}, nil
}

// nginxDetectors are the checks of nginx configurations, by the name the catalog uses.
var nginxDetectors = map[string]func(*nginxFile) []findings.Finding{
	"lint.nginxSSLOn":          nginxSSLOn,
	"lint.nginxTLSVersions":    nginxTLSVersions,
	"lint.nginxUpstreamVerify": nginxUpstreamVerify,
	"lint.nginxUpgrade":        nginxUpgrade,
}

func runNginx(f *nginxFile) []findings.Finding {
	var out []findings.Finding
	for _, name := range sortedKeys(nginxDetectors) {
		out = append(out, nginxDetectors[name](f)...)
	}
	return out
}

func (f *nginxFile) evidence(d *nginxconf.Directive) findings.Evidence {
	lines, ok := f.lines[d.File]
	if !ok {
		lines = readLines(d.File)
		f.lines[d.File] = lines
	}
	return findings.Evidence{File: d.File, Line: d.Line, Text: lineText(lines, d.Line)}
}

func nginxSSLOn(f *nginxFile) []findings.Finding {
	var out []findings.Finding
	f.cfg.Walk(func(d *nginxconf.Directive, _ []*nginxconf.Directive) {
		if d.Name == "ssl" && len(d.Args) == 1 && d.Arg(0) == "on" {
			out = append(out, findings.New("RG-NGINX-001", f.evidence(d), "`ssl on` was removed in nginx 1.25.1: the configuration fails to load (use `listen 443 ssl`)"))
		}
	})
	return out
}

func nginxTLSVersions(f *nginxFile) []findings.Finding {
	var out []findings.Finding
	f.cfg.Walk(func(d *nginxconf.Directive, _ []*nginxconf.Directive) {
		if d.Name != "ssl_protocols" && d.Name != "proxy_ssl_protocols" {
			return
		}
		var old []string
		for _, a := range d.Args {
			if a.Value == "TLSv1" || a.Value == "TLSv1.1" || a.Value == "SSLv3" || a.Value == "SSLv2" {
				old = append(old, a.Value)
			}
		}
		if len(old) > 0 {
			out = append(out, findings.New("RG-TLS-001", f.evidence(d), "%s enables %s (allow only TLSv1.2 TLSv1.3)", d.Name, strings.Join(old, " and ")))
		}
	})
	return out
}

// scope returns the directives named name in effect for d: those of the innermost level
// (d's own block, then each enclosing one, then the top) that sets any, which is how nginx
// inherits proxy_* directives.
func scope(cfg *nginxconf.Config, parents []*nginxconf.Directive, name string) []*nginxconf.Directive {
	for i := len(parents) - 1; i >= -1; i-- {
		level := cfg.Directives
		if i >= 0 {
			level = parents[i].Block
		}
		if ds := nginxconf.Find(level, name); len(ds) > 0 {
			return ds
		}
	}
	return nil
}

func nginxUpstreamVerify(f *nginxFile) []findings.Finding {
	var out []findings.Finding
	f.cfg.Walk(func(d *nginxconf.Directive, parents []*nginxconf.Directive) {
		if d.Name != "proxy_pass" || !strings.HasPrefix(strings.ToLower(d.Arg(0)), "https://") {
			return
		}
		v := scope(f.cfg, parents, "proxy_ssl_verify")
		if len(v) > 0 && v[len(v)-1].Arg(0) == "on" {
			return
		}
		out = append(out, findings.New("RG-TLS-003", f.evidence(d), "proxy_pass %s without `proxy_ssl_verify on`: any certificate at the upstream is accepted", d.Arg(0)))
	})
	return out
}

func nginxUpgrade(f *nginxFile) []findings.Finding {
	var out []findings.Finding
	f.cfg.Walk(func(d *nginxconf.Directive, parents []*nginxconf.Directive) {
		if d.Name != "proxy_pass" {
			return
		}
		v := scope(f.cfg, parents, "proxy_http_version")
		http11 := len(v) > 0 && v[len(v)-1].Arg(0) == "1.1"
		upgrade := false
		for _, h := range scope(f.cfg, parents, "proxy_set_header") {
			if strings.EqualFold(h.Arg(0), "Upgrade") {
				upgrade = true
			}
		}
		if http11 && upgrade {
			return
		}
		var miss []string
		if !http11 {
			miss = append(miss, "proxy_http_version 1.1")
		}
		if !upgrade {
			miss = append(miss, "proxy_set_header Upgrade/Connection")
		}
		out = append(out, findings.New("RG-NGINX-002", f.evidence(d), "proxy_pass without %s: kubectl exec, attach and port-forward fail through the proxy", strings.Join(miss, " and ")))
	})
	return out
}
