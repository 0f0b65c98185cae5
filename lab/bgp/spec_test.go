package bgp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validSpec() Spec {
	return Spec{Name: "cr-gke", ASN: 64514, RouterID: "169.254.0.1",
		Neighbors: []Neighbor{
			{Name: "bgp-peer-0", Address: "169.254.0.2", LocalAddress: "169.254.0.1", PeerASN: 64512},
			{Name: "bgp-peer-1", Address: "169.254.1.2", PeerASN: 64512, Passive: true,
				Timers: Timers{Keepalive: 20, Hold: 60, ConnectRetry: 5}},
		},
		Advertise: []Advertisement{{Prefix: "192.168.32.32/28", MED: 100}}}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"valid", func(*Spec) {}, ""},
		{"no neighbors, nothing advertised", func(s *Spec) { s.Neighbors, s.Advertise = nil, nil }, ""},
		{"bad name", func(s *Spec) { s.Name = "CR" }, `name "CR"`},
		{"asn 0", func(s *Spec) { s.ASN = 0 }, "asn 0 is reserved"},
		{"asn 23456", func(s *Spec) { s.ASN = 23456 }, "asn 23456"},
		{"router id", func(s *Spec) { s.RouterID = "r1" }, `routerId "r1"`},
		{"listen port", func(s *Spec) { s.ListenPort = 70000 }, "listenPort 70000"},
		{"listen address", func(s *Spec) { s.ListenAddresses = []string{"::"} }, "listenAddresses[0]"},
		{"neighbor name", func(s *Spec) { s.Neighbors[1].Name = "bgp-peer-0" }, `neighbors[1].name "bgp-peer-0" is used`},
		{"neighbor address", func(s *Spec) { s.Neighbors[0].Address = "peer" }, "neighbors[0].address"},
		{"neighbor twice", func(s *Spec) { s.Neighbors[1].Address = "169.254.0.2" }, "neighbors[1].address 169.254.0.2 is used"},
		{"local is peer", func(s *Spec) { s.Neighbors[0].LocalAddress = "169.254.0.2" }, "neighbors[0].localAddress"},
		{"peer asn", func(s *Spec) { s.Neighbors[0].PeerASN = 0 }, "neighbors[0].peerAsn 0"},
		{"hold 2", func(s *Spec) { s.Neighbors[0].Timers.Hold = 2 }, "neighbors[0].timers.hold 2"},
		{"keepalive over hold/3", func(s *Spec) { s.Neighbors[1].Timers.Keepalive = 30 }, "neighbors[1].timers.keepalive 30"},
		{"keepalive with default hold", func(s *Spec) { s.Neighbors[0].Timers.Keepalive = 2 }, "neighbors[0].timers.keepalive 2"},
		{"connect retry", func(s *Spec) { s.Neighbors[0].Timers.ConnectRetry = -1 }, "neighbors[0].timers.connectRetry"},
		{"prefix", func(s *Spec) { s.Advertise[0].Prefix = "192.168.32.32" }, "advertise[0].prefix"},
		{"host bits", func(s *Spec) { s.Advertise[0].Prefix = "192.168.32.33/28" }, "did you mean 192.168.32.32/28"},
		{"prefix twice", func(s *Spec) { s.Advertise = append(s.Advertise, s.Advertise[0]) }, "advertise[1].prefix 192.168.32.32/28 is listed twice"},
		{"local table", func(s *Spec) { s.Kernel.Table = 255 }, "kernel.table 255"},
		{"kernel protocol", func(s *Spec) { s.Kernel.Protocol = 3 }, "kernel.protocol 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validSpec()
			s.Neighbors = append([]Neighbor(nil), s.Neighbors...)
			tt.change(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s := validSpec().WithDefaults()
	if s.ListenPort != 179 || !cmp.Equal(s.ListenAddresses, []string{"0.0.0.0"}) || s.Kernel != (Kernel{Table: 254, Protocol: 186}) {
		t.Errorf("global defaults: port %d, addresses %v, kernel %+v", s.ListenPort, s.ListenAddresses, s.Kernel)
	}
	if got, want := s.Neighbors[0].Timers, (Timers{Keepalive: 1, Hold: 3, ConnectRetry: 1}); got != want {
		t.Errorf("lab timers %+v; want %+v", got, want)
	}
	if got, want := s.Neighbors[1].Timers, (Timers{Keepalive: 20, Hold: 60, ConnectRetry: 5}); got != want {
		t.Errorf("GCP-like timers %+v; want them kept: %+v", got, want)
	}
	if validSpec().Neighbors[0].Timers != (Timers{}) {
		t.Error("WithDefaults changed the caller's neighbors")
	}
}

func TestLoadSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "cr.json")
	if err := WriteSpec(path, validSpec()); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(validSpec().WithDefaults(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	bad := []struct{ name, text, want string }{
		{"empty", "", "empty"},
		{"syntax", "{\n  \"name\": \"cr\",\n  \"asn\": 64514,,\n}", "line 3:"},
		{"wrong type", "{\n  \"name\": \"cr\",\n  \"asn\": \"64514\"\n}", "line 3:"},
		{"unknown field", `{"name": "cr", "neighbours": []}`, `unknown field "neighbours"`},
		{"invalid", `{"name": "cr", "asn": 64514, "routerId": "1.1.1.1", "advertise": [{"prefix": "10.0.0.1/8"}]}`, "did you mean 10.0.0.0/8"},
	}
	for _, b := range bad {
		p := filepath.Join(dir, b.name+".json")
		if err := os.WriteFile(p, []byte(b.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSpec(p)
		if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: LoadSpec = %v; want an error naming %s and containing %q", b.name, err, p, b.want)
		}
	}
}

func TestRestartNeeded(t *testing.T) {
	t.Parallel()
	base := validSpec().WithDefaults()
	ok := base
	ok.Advertise = nil
	ok.Neighbors = ok.Neighbors[:1]
	if err := restartNeeded(base, ok); err != nil {
		t.Errorf("neighbors and prefixes changed: %v; want them applied live", err)
	}
	for name, change := range map[string]func(*Spec){
		"name":   func(s *Spec) { s.Name = "other" },
		"asn":    func(s *Spec) { s.ASN = 65000 },
		"port":   func(s *Spec) { s.ListenPort = 1179 },
		"kernel": func(s *Spec) { s.Kernel.Table = 100 },
	} {
		s := base
		change(&s)
		if err := restartNeeded(base, s); err == nil {
			t.Errorf("%s changed: no restart required", name)
		}
	}
	a := base.Neighbors[0]
	b := a
	b.Name = "renamed"
	if !sameSession(a, b) {
		t.Error("a renamed neighbor would reset its session")
	}
	b.Passive = true
	if sameSession(a, b) {
		t.Error("a neighbor turned passive keeps its old session settings")
	}
}

// TestExample keeps the documented example spec valid.
func TestExample(t *testing.T) {
	t.Parallel()
	s, err := LoadSpec(filepath.Join("testdata", "cloud-router.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Neighbors) != 2 || !s.Neighbors[1].Passive || s.Advertise[0].MED != 100 {
		t.Errorf("example = %+v; want 2 neighbors, the second passive, MED 100", s)
	}
}
