package lb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func validSpec() Spec {
	return Spec{Name: "default-nginx", VIP: "10.128.0.28", Ports: []int{443}, Backends: []string{"10.36.0.2", "10.36.0.3"}}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"valid without backends", func(s *Spec) { s.Backends = nil }, ""},
		{"valid at max interval", func(s *Spec) { s.Interval, s.Timeout = 2*time.Second, 2*time.Second }, ""},
		{"bad VIP", func(s *Spec) { s.VIP = "10.128.0" }, `vip "10.128.0" is not an IPv4 address`},
		{"VIP with prefix", func(s *Spec) { s.VIP = "10.128.0.28/32" }, "is not an IPv4 address"},
		{"IPv6 VIP", func(s *Spec) { s.VIP = "fd00::1" }, "is not an IPv4 address"},
		{"no ports", func(s *Spec) { s.Ports = nil }, "at least one port"},
		{"port zero", func(s *Spec) { s.Ports = []int{0} }, "port 0 is outside 1-65535"},
		{"port twice", func(s *Spec) { s.Ports = []int{443, 443} }, "port 443 is listed twice"},
		{"valid admit", func(s *Spec) { s.Admit = []string{"172.31.0.0/16", "10.128.0.0/20"} }, ""},
		{"admit address", func(s *Spec) { s.Admit = []string{"172.31.0.1"} }, `admit "172.31.0.1" is not an IPv4 range`},
		{"admit host bits", func(s *Spec) { s.Admit = []string{"172.31.0.1/16"} }, `admit "172.31.0.1/16"`},
		{"interval over 2s", func(s *Spec) { s.Interval = 3 * time.Second }, "interval 3s: must be at most 2s"},
		{"negative interval", func(s *Spec) { s.Interval = -time.Second }, "interval -1s"},
		{"timeout over interval", func(s *Spec) { s.Interval, s.Timeout = time.Second, 2*time.Second }, "timeout 2s"},
		{"timeout over default interval", func(s *Spec) { s.Timeout = 1500 * time.Millisecond }, "at most the interval (1s)"},
		{"bad name uppercase", func(s *Spec) { s.Name = "Default-nginx" }, `name "Default-nginx"`},
		{"bad name underscore", func(s *Spec) { s.Name = "default_nginx" }, `name "default_nginx"`},
		{"bad name trailing dash", func(s *Spec) { s.Name = "nginx-" }, `name "nginx-"`},
		{"empty name", func(s *Spec) { s.Name = "" }, `name ""`},
		{"long name", func(s *Spec) { s.Name = strings.Repeat("a", 64) }, "use 1-63"},
		{"bad backend", func(s *Spec) { s.Backends = []string{"pod-a"} }, `backend "pod-a" is not an IPv4 address`},
		{"backend twice", func(s *Spec) { s.Backends = []string{"10.36.0.2", "10.36.0.2"} }, "backend 10.36.0.2 is listed twice"},
		{"backend is VIP", func(s *Spec) { s.Backends = []string{"10.128.0.28"} }, "is the VIP itself"},
		{"threshold over 10", func(s *Spec) { s.HealthyThreshold = 11 }, "healthyThreshold 11 is outside 1-10"},
		{"negative threshold", func(s *Spec) { s.UnhealthyThreshold = -1 }, "unhealthyThreshold -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := validSpec()
			tc.change(&s)
			err := s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v; want nil", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate() = nil; want an error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Validate() = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadSpec(t *testing.T) {
	t.Parallel()
	defaults := validSpec()
	defaults.Interval, defaults.Timeout = time.Second, 500*time.Millisecond
	defaults.UnhealthyThreshold, defaults.HealthyThreshold = 1, 1
	for _, tc := range []struct {
		name, file, text string
		want             Spec
		wantErr          string // substring; the file name must be in every error as well
	}{
		{name: "yaml with defaults", file: "lb.yaml", want: defaults,
			text: "name: default-nginx\nvip: 10.128.0.28\nports: [443]\nbackends: [10.36.0.2, 10.36.0.3]\n"},
		{name: "json with durations", file: "lb.json",
			text: `{"name":"default-nginx","vip":"10.128.0.28","ports":[443],"backends":["10.36.0.2","10.36.0.3"],"interval":"2s","timeout":"1s","unhealthyThreshold":2,"healthyThreshold":3}`,
			want: Spec{Name: "default-nginx", VIP: "10.128.0.28", Ports: []int{443}, Backends: []string{"10.36.0.2", "10.36.0.3"},
				Interval: 2 * time.Second, Timeout: time.Second, UnhealthyThreshold: 2, HealthyThreshold: 3}},
		{name: "json unknown field", file: "lb.json", wantErr: `unknown field "backend"`,
			text: `{"name":"x","vip":"10.128.0.28","ports":[443],"backend":["10.36.0.2"]}`},
		{name: "json trailing data", file: "lb.json", wantErr: "unexpected data after the JSON object",
			text: `{"name":"x","vip":"10.128.0.28","ports":[443]} {}`},
		{name: "json wrong type", file: "lb.json", wantErr: "line 1:46: field ports: want a JSON int, got string",
			text: `{"name":"x","vip":"10.128.0.28","ports":["443"]}`},
		{name: "yaml unknown field", file: "lb.yaml", wantErr: "field healthcheck not found",
			text: "name: x\nvip: 10.128.0.28\nports: [443]\nhealthcheck: {}\n"},
		{name: "yaml two documents", file: "lb.yaml", wantErr: "one YAML document",
			text: "name: x\nvip: 10.128.0.28\nports: [443]\n---\nname: y\n"},
		{name: "empty", file: "lb.yaml", wantErr: "the file is empty"},
		{name: "bad duration", file: "lb.yaml", wantErr: `interval "fast" is not a duration`,
			text: "name: x\nvip: 10.128.0.28\nports: [443]\ninterval: fast\n"},
		{name: "invalid spec", file: "lb.yaml", wantErr: "interval 5s: must be at most 2s",
			text: "name: x\nvip: 10.128.0.28\nports: [443]\ninterval: 5s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadSpec(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("LoadSpec() error = %v; want one naming %s and containing %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSpec() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("LoadSpec() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadSpecMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.json")
	if _, err := LoadSpec(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadSpec() error = %v; want one naming %s", err, path)
	}
}

func TestWriteSpecRoundTrip(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"lb.json", "lb.yaml"} {
		s := validSpec()
		s.Interval, s.Timeout, s.UnhealthyThreshold, s.HealthyThreshold = 250*time.Millisecond, 200*time.Millisecond, 2, 3
		path := filepath.Join(t.TempDir(), file)
		if err := WriteSpec(path, s); err != nil {
			t.Fatal(err)
		}
		got, err := LoadSpec(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("%s: LoadSpec(WriteSpec(s)) mismatch (-want +got):\n%s", file, diff)
		}
	}
	bad := validSpec()
	bad.VIP = ""
	if err := WriteSpec(filepath.Join(t.TempDir(), "lb.json"), bad); err == nil {
		t.Error("WriteSpec(invalid spec) = nil; want an error")
	}
}
