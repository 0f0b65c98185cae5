// Package lb emulates a GCP internal passthrough Network Load Balancer inside a VPC router
// namespace: nftables DNAT from a VIP to the healthy backends (client source preserved, no
// SNAT), kept current by a health-checker daemon (Run) that runs in the same namespace.
package lb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"reachgate/lab/internal/specfile"
)

// Lab defaults. GCP's own health-check defaults are a 5s interval, 5s timeout and
// thresholds of 2/2; the lab checks faster so failover tests finish in seconds.
const (
	DefaultInterval  = time.Second
	DefaultTimeout   = 500 * time.Millisecond
	DefaultThreshold = 1
	// MaxInterval bounds failover: new connections leave a dead backend within 2×Interval.
	MaxInterval  = 2 * time.Second
	maxThreshold = 10 // GCP accepts 1-10
)

// Spec is one internal LB (a forwarding rule + backend service).
type Spec struct {
	Name     string   // e.g. "default-nginx"; the nft table is rg_lb_<name with - → _>
	VIP      string   // IPv4 address, e.g. "10.128.0.28"
	Ports    []int    // TCP ports forwarded, e.g. [443]
	Backends []string // IPv4 addresses; passthrough, so each serves the same Ports
	// SNAT, when set, rewrites the client source to this address for connections through
	// the VIP, and health checks use it too: for backends outside the VPC that can only
	// answer the VPC's own ranges (GKE's kube-proxy does the same for a node port).
	SNAT string
	// Admit, when set, lists the client source ranges the forwarding rule accepts; other
	// clients' packets to the VIP are dropped. GCP: a regional internal LB admits clients of
	// its own region only, unless global access is on; the caller computes the ranges.
	Admit []string
	// Health checking: TCP connect to each backend's first port. Zero means the default.
	Interval           time.Duration // ≤ MaxInterval
	Timeout            time.Duration // per check, ≤ Interval
	UnhealthyThreshold int           // consecutive failures that mark a backend unhealthy
	HealthyThreshold   int           // consecutive successes that mark it healthy again
}

// specFile is the on-disk form: durations are strings such as "1s".
type specFile struct {
	Name               string   `json:"name" yaml:"name"`
	VIP                string   `json:"vip" yaml:"vip"`
	Ports              []int    `json:"ports" yaml:"ports"`
	Backends           []string `json:"backends" yaml:"backends"`
	SNAT               string   `json:"snat,omitempty" yaml:"snat,omitempty"`
	Admit              []string `json:"admit,omitempty" yaml:"admit,omitempty"`
	Interval           string   `json:"interval,omitempty" yaml:"interval,omitempty"`
	Timeout            string   `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	UnhealthyThreshold int      `json:"unhealthyThreshold,omitempty" yaml:"unhealthyThreshold,omitempty"`
	HealthyThreshold   int      `json:"healthyThreshold,omitempty" yaml:"healthyThreshold,omitempty"`
}

var specName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// WithDefaults returns s with zero health-check fields set to the lab defaults.
func (s Spec) WithDefaults() Spec {
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = min(DefaultTimeout, s.Interval)
	}
	if s.UnhealthyThreshold == 0 {
		s.UnhealthyThreshold = DefaultThreshold
	}
	if s.HealthyThreshold == 0 {
		s.HealthyThreshold = DefaultThreshold
	}
	return s
}

// Validate reports every problem of s; zero health-check fields are valid (defaults).
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !specName.MatchString(s.Name) {
		bad("name %q: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit", s.Name)
	}
	if s.SNAT != "" {
		if a, err := netip.ParseAddr(s.SNAT); err != nil || !a.Is4() {
			bad("snat %q is not an IPv4 address", s.SNAT)
		}
	}
	vip, err := netip.ParseAddr(s.VIP)
	if err != nil || !vip.Is4() {
		bad("vip %q is not an IPv4 address", s.VIP)
	}
	if len(s.Ports) == 0 {
		bad("ports: at least one port is required")
	}
	seen := map[int]bool{}
	for _, p := range s.Ports {
		if p < 1 || p > 65535 {
			bad("port %d is outside 1-65535", p)
		}
		if seen[p] {
			bad("port %d is listed twice", p)
		}
		seen[p] = true
	}
	for _, a := range s.Admit {
		if p, err := netip.ParsePrefix(a); err != nil || !p.Addr().Is4() || p != p.Masked() {
			bad("admit %q is not an IPv4 range like 172.31.0.0/16", a)
		}
	}
	addrs := map[netip.Addr]bool{}
	for _, b := range s.Backends {
		a, err := netip.ParseAddr(b)
		switch {
		case err != nil || !a.Is4():
			bad("backend %q is not an IPv4 address", b)
		case a == vip:
			bad("backend %s is the VIP itself", b)
		case addrs[a]:
			bad("backend %s is listed twice", b)
		}
		addrs[a] = true
	}
	switch {
	case s.Interval < 0 || s.Interval > MaxInterval:
		bad("interval %v: must be at most %v (new connections must leave a dead backend within 2 intervals)", s.Interval, MaxInterval)
	case s.Timeout < 0 || s.Timeout > s.WithDefaults().Interval:
		bad("timeout %v: must be positive and at most the interval (%v)", s.Timeout, s.WithDefaults().Interval)
	}
	if n := s.UnhealthyThreshold; n < 0 || n > maxThreshold {
		bad("unhealthyThreshold %d is outside 1-%d", n, maxThreshold)
	}
	if n := s.HealthyThreshold; n < 0 || n > maxThreshold {
		bad("healthyThreshold %d is outside 1-%d", n, maxThreshold)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("load balancer %q: %w", s.Name, errors.Join(errs...))
}

// LoadSpec reads a spec strictly (unknown fields are errors): JSON when the name ends in
// .json, YAML otherwise. The result is validated and has its defaults applied.
func LoadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read load balancer spec: %w", err)
	}
	var f specFile
	if strings.HasSuffix(path, ".json") {
		err = specfile.DecodeJSON(data, &f)
	} else {
		err = decodeYAML(data, &f)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("load balancer spec %s: %w", path, err)
	}
	s := Spec{Name: f.Name, VIP: f.VIP, Ports: f.Ports, Backends: f.Backends, SNAT: f.SNAT, Admit: f.Admit,
		UnhealthyThreshold: f.UnhealthyThreshold, HealthyThreshold: f.HealthyThreshold}
	for _, d := range []struct {
		field, text string
		to          *time.Duration
	}{{"interval", f.Interval, &s.Interval}, {"timeout", f.Timeout, &s.Timeout}} {
		if d.text == "" {
			continue
		}
		if *d.to, err = time.ParseDuration(d.text); err != nil {
			return Spec{}, fmt.Errorf("load balancer spec %s: %s %q is not a duration such as \"1s\" or \"500ms\"", path, d.field, d.text)
		}
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("load balancer spec %s: %w", path, err)
	}
	return s.WithDefaults(), nil
}

func decodeYAML(data []byte, f *specFile) (err error) {
	defer func() {
		// The YAML library must not bring the daemon down on a bad file.
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return errors.New("a spec file holds one YAML document")
	}
	return nil
}

// WriteSpec validates s and writes it as JSON (also valid YAML), atomically: the daemon
// re-reads the file every interval and must never see half of it.
func WriteSpec(path string, s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	f := specFile{Name: s.Name, VIP: s.VIP, Ports: s.Ports, Backends: s.Backends, SNAT: s.SNAT, Admit: s.Admit,
		UnhealthyThreshold: s.UnhealthyThreshold, HealthyThreshold: s.HealthyThreshold}
	if f.Backends == nil {
		f.Backends = []string{}
	}
	if s.Interval != 0 {
		f.Interval = s.Interval.String()
	}
	if s.Timeout != 0 {
		f.Timeout = s.Timeout.String()
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := specfile.WriteAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write load balancer spec: %w", err)
	}
	return nil
}
