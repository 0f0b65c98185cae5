package wan

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile   string
		overrides []string
		want      Impairment
	}{
		{"", nil, Impairment{}},
		{"none", nil, Impairment{}},
		{"same-metro", nil, Impairment{Delay: time.Millisecond, Jitter: 50 * time.Microsecond}},
		{"cross-region", []string{"loss=0.5"}, Impairment{Delay: 15 * time.Millisecond, Jitter: 500 * time.Microsecond, Loss: 0.5}},
		{"intercontinental", []string{"rtt=100ms", "jitter=0s"}, Impairment{Delay: 50 * time.Millisecond}},
		{"lossy-vpn", []string{"rate=20mbit"}, Impairment{Delay: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 1, Rate: 20_000_000}},
		{"none", []string{" delay = 3ms ", "loss=2%"}, Impairment{Delay: 3 * time.Millisecond, Loss: 2}},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.profile, tt.overrides...)
		if err != nil {
			t.Errorf("Resolve(%q, %q): %v", tt.profile, tt.overrides, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Resolve(%q, %q) (-want +got):\n%s", tt.profile, tt.overrides, diff)
		}
	}
}

func TestProfilesRoundTrips(t *testing.T) {
	t.Parallel()
	want := map[string]time.Duration{"none": 0, "same-metro": 2 * time.Millisecond, "cross-region": 30 * time.Millisecond,
		"intercontinental": 150 * time.Millisecond, "lossy-vpn": 30 * time.Millisecond}
	for name, rtt := range want {
		p, ok := Profiles[name]
		if !ok {
			t.Errorf("profile %s is missing", name)
			continue
		}
		if p.RTT() != rtt {
			t.Errorf("profile %s: rtt %v; want %v", name, p.RTT(), rtt)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}
	if Profiles["lossy-vpn"].Loss != 1 {
		t.Errorf("lossy-vpn loss %v; want 1", Profiles["lossy-vpn"].Loss)
	}
}

// Bad input names the problem and the fix.
func TestResolveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile   string
		overrides []string
		want      []string
	}{
		{"transatlantic", nil, []string{`profile "transatlantic" is not defined`, "cross-region", "intercontinental"}},
		{"none", []string{"delay"}, []string{"write key=value", "delay=20ms"}},
		{"none", []string{"latency=5ms"}, []string{`unknown key "latency"`, "use delay, jitter, rtt, loss or rate"}},
		{"none", []string{"delay=15"}, []string{"not a duration", "delay=20ms"}},
		{"none", []string{"loss=lots"}, []string{"loss=lots: not a number", "loss=1"}},
		{"none", []string{"loss=100"}, []string{"loss 100", "up to (not including) 100"}},
		{"none", []string{"loss=-1"}, []string{"loss -1"}},
		{"same-metro", []string{"jitter=5ms"}, []string{"jitter 5ms exceeds delay 1ms", "keep jitter ≤ delay"}},
		{"none", []string{"delay=10s"}, []string{"delay 10s", "between 0 and 5s"}},
		{"none", []string{"rate=20mbps"}, []string{`rate "20mbps" is not a rate`, "20mbit"}},
		{"none", []string{"rate=1kbit"}, []string{"rate 1kbit", "at least 64kbit"}},
		{"none", []string{"delay=x", "loss=y"}, []string{"delay=x", "loss=y"}}, // every problem at once
	}
	for _, tt := range tests {
		_, err := Resolve(tt.profile, tt.overrides...)
		if err == nil {
			t.Errorf("Resolve(%q, %q): no error; want one mentioning %q", tt.profile, tt.overrides, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Resolve(%q, %q): %q; want it to mention %q", tt.profile, tt.overrides, err, w)
			}
		}
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{"20mbit": 20_000_000, "1gbit": 1e9, "500kbit": 500_000, "1.5mbit": 1_500_000,
		"64000": 64000, "0": 0, "100MBIT": 100_000_000, "10bit": 10} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
		if err == nil && got > 0 {
			back, err := ParseRate(FormatRate(got))
			if err != nil || back != got {
				t.Errorf("ParseRate(FormatRate(%d)=%q) = %d, %v", got, FormatRate(got), back, err)
			}
		}
	}
	for _, bad := range []string{"", "fast", "-1mbit", "20mb", "1e400"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q): no error", bad)
		}
	}
}
