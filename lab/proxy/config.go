// Package proxy is reachgate's own reverse proxy for Solution 1 (ilb-proxy):
// the process that runs in the proxy pods behind the internal load balancer
// and forwards to the private endpoint of the cluster's API server.
//
// Mode l7 terminates TLS with the proxy's certificate and re-encrypts to the
// upstream, verifying it against the cluster CA (or, to reproduce the
// article's nginx, not verifying it at all). Mode l4 passes TCP through, so
// the client talks TLS with the API server itself.
package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Modes.
const (
	ModeL7 = "l7" // terminate TLS, re-encrypt to the upstream
	ModeL4 = "l4" // TCP passthrough
)

// Defaults applied by LoadConfig (and assumed by Run for empty fields).
const (
	DefaultMinTLSVersion = "1.2"
	DefaultReadTimeout   = "90s" // nginx's proxy_read_timeout 90 in the article
)

// Config is the proxy's configuration file, YAML or JSON.
type Config struct {
	// Mode is ModeL7 or ModeL4.
	Mode string `yaml:"mode" json:"mode"`
	// Listen is host:port to accept on, e.g. "10.36.0.2:443" or ":443".
	Listen string `yaml:"listen" json:"listen"`
	// Upstream is the API server, IP literal and port: "192.168.32.34:443".
	Upstream string `yaml:"upstream" json:"upstream"`

	// CertFile and KeyFile hold the certificate served to clients (l7 only).
	CertFile string `yaml:"certFile,omitempty" json:"certFile,omitempty"`
	KeyFile  string `yaml:"keyFile,omitempty" json:"keyFile,omitempty"`
	// MinTLSVersion is the lowest TLS version accepted from clients:
	// "1.0", "1.1", "1.2" (default) or "1.3" (l7 only).
	MinTLSVersion string `yaml:"minTLSVersion,omitempty" json:"minTLSVersion,omitempty"`
	// UpstreamCAFile is the bundle the upstream's certificate must chain to.
	// Empty means the upstream is NOT verified: the article's nginx
	// behaviour, kept so that reachgate can demonstrate the defect (l7 only).
	UpstreamCAFile string `yaml:"upstreamCAFile,omitempty" json:"upstreamCAFile,omitempty"`
	// UpstreamServerName is the name verified in the upstream's certificate
	// and sent as SNI, e.g. "kubernetes.default"; empty means the upstream's
	// IP, checked against the certificate's IP SANs (l7 only).
	UpstreamServerName string `yaml:"upstreamServerName,omitempty" json:"upstreamServerName,omitempty"`
	// ReadTimeout is a Go duration (default "90s"): the longest the upstream
	// may stay silent, like nginx's proxy_read_timeout (l7 only).
	ReadTimeout string `yaml:"readTimeout,omitempty" json:"readTimeout,omitempty"`

	// AccessLog logs one line per request (l7) or connection (l4).
	AccessLog bool `yaml:"accessLog,omitempty" json:"accessLog,omitempty"`

	// Source names where the config came from, for errors; LoadConfig sets it.
	Source string `yaml:"-" json:"-"`
}

// LoadConfig reads, strictly decodes and validates the config file at path
// (JSON when the name ends in .json or the text starts with '{', else YAML),
// and applies the defaults. Relative file names in it are taken relative to
// the file's directory, as kubeconfig does.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read proxy config: %w", err)
	}
	cfg, err := decode(data, strings.HasSuffix(path, ".json"))
	if err != nil {
		return Config{}, fmt.Errorf("proxy config %s: %w", path, err)
	}
	cfg.Source = path
	dir := filepath.Dir(path)
	for _, f := range []*string{&cfg.CertFile, &cfg.KeyFile, &cfg.UpstreamCAFile} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	if cfg.Mode == ModeL7 {
		if cfg.MinTLSVersion == "" {
			cfg.MinTLSVersion = DefaultMinTLSVersion
		}
		if cfg.ReadTimeout == "" {
			cfg.ReadTimeout = DefaultReadTimeout
		}
	}
	return cfg, cfg.Validate()
}

// knownFields are the keys a config file may use, from the struct tags.
var knownFields = func() []string {
	var names []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

func unknownField(key string, line int) error {
	where := ""
	if line > 0 {
		where = "line " + strconv.Itoa(line) + ": "
	}
	return fmt.Errorf("%sunknown field %q (known fields: %s)", where, key, strings.Join(knownFields, ", "))
}

// decode checks every key against knownFields before decoding, so that a
// typo is reported by name instead of being silently ignored.
func decode(data []byte, isJSON bool) (Config, error) {
	var cfg Config
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return cfg, errors.New("the file is empty")
	}
	if isJSON || trimmed[0] == '{' {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return cfg, fmt.Errorf("not a JSON object: %w", err)
		}
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !slices.Contains(knownFields, k) {
				return cfg, unknownField(k, 0)
			}
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return cfg, err
		}
		return cfg, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return cfg, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return cfg, fmt.Errorf("line %d: a second YAML document (the file must hold one)", extra.Line)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return cfg, fmt.Errorf("line %d: the file must be a mapping of fields", doc.Line)
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; !slices.Contains(knownFields, k.Value) {
			return cfg, unknownField(k.Value, k.Line)
		}
	}
	if err := m.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return cfg, errors.New(strings.Join(te.Errors, "; "))
		}
		return cfg, err
	}
	return cfg, nil
}

// minTLSVersions maps MinTLSVersion values to crypto/tls constants.
var minTLSVersions = map[string]uint16{"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}

// Validate reports every problem of the config, one per line, each as
// "proxy config FILE: field: problem". Empty MinTLSVersion and ReadTimeout
// mean their defaults.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		src := "proxy config"
		if c.Source != "" {
			src += " " + c.Source
		}
		errs = append(errs, fmt.Errorf("%s: %s: %s", src, field, fmt.Sprintf(format, args...)))
	}
	switch c.Mode {
	case ModeL7, ModeL4:
	case "":
		add("mode", "missing (use l7 or l4)")
	default:
		add("mode", "%q is not l7 or l4", c.Mode)
	}
	if c.Listen == "" {
		add("listen", `missing (host:port, e.g. ":443")`)
	} else if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "%q is not host:port: %v", c.Listen, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		add("listen", "%q: port %q is not a number from 0 to 65535", c.Listen, port)
	} else if _, err := netip.ParseAddr(host); host != "" && err != nil {
		add("listen", "%q: host %q is not an IP address (leave it empty for all addresses)", c.Listen, host)
	}
	if c.Upstream == "" {
		add("upstream", `missing (IP:port, e.g. "192.168.32.34:443")`)
	} else if _, err := netip.ParseAddrPort(c.Upstream); err != nil {
		add("upstream", "%q is not IP:port: %v", c.Upstream, err)
	}
	if c.Mode == ModeL7 {
		if c.CertFile == "" {
			add("certFile", "missing (l7 mode serves its own certificate)")
		}
		if c.KeyFile == "" {
			add("keyFile", "missing (l7 mode serves its own certificate)")
		}
		if _, ok := minTLSVersions[c.MinTLSVersion]; !ok && c.MinTLSVersion != "" {
			add("minTLSVersion", "%q is not 1.0, 1.1, 1.2 or 1.3", c.MinTLSVersion)
		}
		if c.ReadTimeout != "" {
			if d, err := time.ParseDuration(c.ReadTimeout); err != nil {
				add("readTimeout", "%q is not a Go duration like 90s", c.ReadTimeout)
			} else if d <= 0 {
				add("readTimeout", "%q must be positive", c.ReadTimeout)
			}
		}
	}
	if c.Mode == ModeL4 {
		// A TLS setting on a passthrough proxy is a mistake worth stopping for:
		// it would look like protection that is not there.
		for _, f := range []struct{ name, value string }{
			{"certFile", c.CertFile}, {"keyFile", c.KeyFile}, {"minTLSVersion", c.MinTLSVersion},
			{"upstreamCAFile", c.UpstreamCAFile}, {"upstreamServerName", c.UpstreamServerName},
			{"readTimeout", c.ReadTimeout},
		} {
			if f.value != "" {
				add(f.name, "applies to mode l7 only (l4 passes TLS through untouched)")
			}
		}
	}
	return errors.Join(errs...)
}
