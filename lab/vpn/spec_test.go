package vpn

import (
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validSpec(t *testing.T) Spec {
	t.Helper()
	a, _, err := Pair("gw-a", "gw-b", []Link{
		{Name: "tunnel-0", Interface: "vt0", A: "10.250.0.1:51820", B: "10.250.0.2:51820", Inner: netip.MustParsePrefix("169.254.0.0/30")},
		{Name: "tunnel-1", Interface: "vt1", A: "10.250.1.1:51820", B: "10.250.1.2:51820", Inner: netip.MustParsePrefix("169.254.1.0/30")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Spec)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"bad gateway name", func(s *Spec) { s.Name = "GW" }, `name "GW"`},
		{"duplicate tunnel name", func(s *Spec) { s.Tunnels[1].Name = "tunnel-0" }, "tunnels[1].name \"tunnel-0\" is used"},
		{"duplicate interface", func(s *Spec) { s.Tunnels[1].Interface = "vt0" }, "tunnels[1].interface \"vt0\" is used"},
		{"long interface", func(s *Spec) { s.Tunnels[0].Interface = "a-very-long-ifname" }, "tunnels[0].interface"},
		{"bad private key", func(s *Spec) { s.Tunnels[0].PrivateKey = "nope" }, "tunnels[0].privateKey"},
		{"short peer key", func(s *Spec) {
			s.Tunnels[1].PeerPublicKey = base64.StdEncoding.EncodeToString(make([]byte, 16))
		}, "tunnels[1].peerPublicKey"},
		{"peer key is own private key", func(s *Spec) { s.Tunnels[0].PeerPublicKey = s.Tunnels[0].PrivateKey }, "equals privateKey"},
		{"listen without port", func(s *Spec) { s.Tunnels[0].Listen = "10.250.0.1" }, "tunnels[0].listen"},
		{"same listen twice", func(s *Spec) { s.Tunnels[1].Listen = s.Tunnels[0].Listen }, "tunnels[1].listen 10.250.0.1:51820 is used"},
		{"same address, other port", func(s *Spec) { s.Tunnels[1].Listen = "10.250.0.1:51821" }, ""},
		{"bad endpoint", func(s *Spec) { s.Tunnels[0].PeerEndpoint = "peer:51820" }, "tunnels[0].peerEndpoint"},
		{"address without prefix", func(s *Spec) { s.Tunnels[0].Address = "169.254.0.1" }, "tunnels[0].address"},
		{"address /32", func(s *Spec) { s.Tunnels[0].Address = "169.254.0.1/32" }, "/30 or shorter"},
		{"network address", func(s *Spec) { s.Tunnels[0].Address = "169.254.0.0/30" }, "network address"},
		{"overlapping inner", func(s *Spec) { s.Tunnels[1].Address = "169.254.0.2/30" }, "overlaps"},
		{"mtu too small", func(s *Spec) { s.Tunnels[0].MTU = 100 }, "tunnels[0].mtu 100"},
		{"keepalive negative", func(s *Spec) { s.Tunnels[0].Keepalive = -1 }, "tunnels[0].keepalive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validSpec(t)
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

func TestLoadSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := validSpec(t)
	path := filepath.Join(dir, "gw.json")
	if err := WriteSpec(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Tunnels {
		s.Tunnels[i] = s.Tunnels[i].WithDefaults()
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got.Tunnels[0].MTU != DefaultMTU || got.Tunnels[0].Keepalive != DefaultKeepalive {
		t.Errorf("defaults: mtu %d keepalive %d; want %d, %d", got.Tunnels[0].MTU, got.Tunnels[0].Keepalive, DefaultMTU, DefaultKeepalive)
	}

	bad := []struct{ name, text, want string }{
		{"empty", "", "empty"},
		{"syntax", "{\n  \"name\": \"gw\",\n  \"tunnels\": [,]\n}", "line 3:"},
		{"truncated", "{\n  \"name\": \"gw\",\n  \"tunnels\": [", "line 3:"},
		{"unknown field", "{\n  \"name\": \"gw\",\n  \"tunels\": []\n}", `unknown field "tunels"`},
		{"wrong type", "{\n  \"name\": 7\n}", "line 2:"},
		{"trailing", "{\"name\": \"gw\"}\n{}", "unexpected data"},
		{"invalid", `{"name": "gw", "tunnels": [{"name": "t"}]}`, "tunnels[0].interface"},
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

func TestPair(t *testing.T) {
	t.Parallel()
	a, b, err := Pair("gw-a", "gw-b", []Link{{Name: "tunnel-0", Interface: "vt0", A: "10.0.0.1:51820",
		B: "10.0.0.2:51820", Inner: netip.MustParsePrefix("169.254.7.0/30")}})
	if err != nil {
		t.Fatal(err)
	}
	ta, tb := a.Tunnels[0], b.Tunnels[0]
	if ta.Address != "169.254.7.1/30" || tb.Address != "169.254.7.2/30" {
		t.Errorf("inner addresses %s, %s; want 169.254.7.1/30, 169.254.7.2/30", ta.Address, tb.Address)
	}
	if ta.Listen != tb.PeerEndpoint || tb.Listen != ta.PeerEndpoint {
		t.Errorf("endpoints do not cross: A %s→%s, B %s→%s", ta.Listen, ta.PeerEndpoint, tb.Listen, tb.PeerEndpoint)
	}
	for _, c := range []struct{ priv, peerPub string }{{ta.PrivateKey, tb.PeerPublicKey}, {tb.PrivateKey, ta.PeerPublicKey}} {
		pub, err := PublicKey(c.priv)
		if err != nil || pub != c.peerPub {
			t.Errorf("a side's public key %s (%v) is not what its peer holds (%s)", pub, err, c.peerPub)
		}
	}
	if _, _, err := Pair("a", "b", []Link{{Name: "t", Interface: "vt0", A: "10.0.0.1:1", B: "10.0.0.2:1",
		Inner: netip.MustParsePrefix("169.254.0.0/31")}}); err == nil {
		t.Error("Pair accepted a /31 inner prefix")
	}
}

// TestExample keeps the documented example spec valid.
func TestExample(t *testing.T) {
	t.Parallel()
	s, err := LoadSpec(filepath.Join("testdata", "gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tunnels) != 2 || s.Tunnels[1].MTU != DefaultMTU {
		t.Errorf("example: %d tunnels, second MTU %d; want 2 and the default", len(s.Tunnels), s.Tunnels[1].MTU)
	}
}
