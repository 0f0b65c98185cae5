package wan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSpecRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wan.json")
	s := Spec{Interface: "l3", Impairment: Impairment{Delay: 15 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.5, Rate: 20_000_000},
		QueueLimit: 500, Seed: 9}
	if err := WriteSpec(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := WriteSpec(path, Spec{Interface: "l3"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadSpec(path); got.QueueLimit != DefaultQueueLimit {
		t.Errorf("queueLimit %d; want the default %d", got.QueueLimit, DefaultQueueLimit)
	}
}

func TestLoadSpecErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       []string
	}{
		{"empty", "", []string{"the file is empty", `"interface"`}},
		{"syntax", "{\n  \"interface\": \"l0\",\n  \"delay\": 15ms\n}", []string{"line 3:", "invalid character"}},
		{"unknown field", "{\n  \"interface\": \"l0\",\n  \"latency\": \"5ms\"\n}", []string{`unknown field "latency"`}},
		{"type", "{\n  \"interface\": \"l0\",\n\n  \"loss\": \"1\"\n}", []string{"line 4:", "loss"}},
		{"duration", `{"interface": "l0", "delay": "15"}`, []string{`delay "15" is not a duration`, `"15ms"`}},
		{"interface", `{"interface": "a-very-long-name"}`, []string{`interface "a-very-long-name"`, "1-12"}},
		{"jitter", `{"interface": "l0", "delay": "1ms", "jitter": "2ms"}`, []string{"jitter 2ms exceeds delay 1ms"}},
		{"trailing", "{\"interface\": \"l0\"}\n{}", []string{"line 2:", "unexpected data after the JSON object"}},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "wan.json")
		if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSpec(path)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range append(tt.want, path) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q; want it to mention %q", tt.name, err, w)
			}
		}
	}
}

func TestNFTRules(t *testing.T) {
	t.Parallel()
	got := nftRules("l0", numbers{nftTable: "rg_wan_l0", tunOut: TunOut("l0"), mark: 3 << 16})
	for _, w := range []string{
		`iifname != { "l0", "we-l0" } fib daddr oifname "l0" meta mark set meta mark & 0x0000ffff | 0x00030000 notrack`,
		`oifname "l0" meta mark set`,
		`iifname "l0" meta mark set meta mark & 0x0000ffff | 0x00030000 notrack`, // the ingress rule matches it
		"delete table ip rg_wan_l0",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("nft rules lack %q:\n%s", w, got)
		}
	}
}
