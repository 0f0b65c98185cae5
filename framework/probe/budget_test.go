package probe

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reachgate/fixtures"
)

func TestParseEmbeddedBudgets(t *testing.T) {
	t.Parallel()
	b, err := ParseBudgets("fixtures/budgets.yaml", fixtures.Budgets())
	if err != nil {
		t.Fatalf("embedded budgets: %v", err)
	}
	want := map[string]Ms{"none": 0, "same-metro": 2, "cross-region": 30, "intercontinental": 150}
	for name, rtt := range want {
		p, err := b.Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.RTT != rtt {
			t.Errorf("profile %s RTT %v; want %v", name, p.RTT, rtt)
		}
	}
	if b.TLS.MinVersion != tls.VersionTLS12 || b.TLS.MinDaysToExpiry != 30 {
		t.Errorf("tls budget %+v; want TLS 1.2 and 30 days", b.TLS)
	}
	// p95 GET /version <= RTT*2 + 20 ms.
	for _, tt := range []struct {
		profile string
		want    Ms
	}{{"none", 20}, {"same-metro", 24}, {"cross-region", 80}, {"intercontinental", 320}, {"lossy-vpn", 310}} {
		p, _ := b.Profile(tt.profile)
		if got := b.Latency[0].Limit(p); got != tt.want {
			t.Errorf("limit of %s %s on %s = %v; want %v", b.Latency[0].Quantile, b.Latency[0].Path, tt.profile, got, tt.want)
		}
	}
	if _, err := b.Profile("moon"); err == nil || !strings.Contains(err.Error(), "known: cross-region") {
		t.Errorf("unknown profile: %v; want an error listing the known ones", err)
	}
}

func TestParseBudgetsErrors(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: reachgate.dev/v1alpha1\nkind: Budgets\nprofiles:\n  - name: none\n    rttMs: 0\n"
	const rest = "latency:\n  - path: /version\n    quantile: p95\n    rttFactor: 2\n    plusMs: 20\ntls:\n  minVersion: \"1.2\"\n  minDaysToExpiry: 30\n"
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "b.yaml:1: the file is empty"},
		{"syntax", "profiles: [\n", "b.yaml:1: invalid YAML"},
		{"unknown top field", head + rest + "extra: 1\n", `b.yaml:14: budgets: unknown field "extra"`},
		{"wrong kind", strings.Replace(head, "Budgets", "Topology", 1) + rest, `b.yaml:2: kind "Topology"`},
		{"missing rtt", "apiVersion: reachgate.dev/v1alpha1\nkind: Budgets\nprofiles:\n  - name: none\n" + rest, `b.yaml:4: profiles[0]: missing field "rttMs"`},
		{"negative rtt", strings.Replace(head, "rttMs: 0", "rttMs: -3", 1) + rest, "b.yaml:5: profiles[0].rttMs must be a non-negative number"},
		{"rtt as text", strings.Replace(head, "rttMs: 0", "rttMs: fast", 1) + rest, `b.yaml:5: profiles[0].rttMs must be a non-negative number, got "fast"`},
		{"duplicate profile", head + "  - name: none\n    rttMs: 1\n" + rest, `b.yaml:6: profiles[1]: profile "none" is defined twice`},
		{"bad quantile", head + strings.Replace(rest, "p95", "p90", 1), `b.yaml:8: latency[0].quantile "p90": use one of p50, p95, p99, max`},
		{"relative path", head + strings.Replace(rest, "/version", "version", 1), `b.yaml:7: latency[0].path "version" must start with /`},
		{"override of an unknown profile", head + strings.Replace(rest, "plusMs: 20\n", "plusMs: 20\n    profiles:\n      moon: {plusMs: 1}\n", 1), `b.yaml:12: latency[0].profiles: unknown field "moon" (known: none)`},
		{"unquoted version", head + strings.Replace(rest, `"1.2"`, "1.25", 1), `b.yaml:12: tls.minVersion "1.25"`},
		{"duplicate key", head + rest + "tls:\n  minVersion: \"1.3\"\n  minDaysToExpiry: 1\n", `b.yaml:14: budgets: field "tls" given twice`},
		{"two documents", head + rest + "---\nkind: Budgets\n", "b.yaml:14: a second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseBudgets("b.yaml", []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseBudgets: error %v; want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := ParseBudgets("b.yaml", []byte(head+rest)); err != nil {
		t.Errorf("the base document: %v; want it to parse", err)
	}
}

func TestLoadBudgetsFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "budgets.yaml")
	if err := os.WriteFile(p, []byte("kind: Budgets\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBudgetsFile(p); err == nil || !strings.HasPrefix(err.Error(), p+":1: ") {
		t.Errorf("LoadBudgetsFile: %v; want an error starting with %s:1:", err, p)
	}
	if _, err := LoadBudgetsFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	b, err := ParseBudgets("budgets.yaml", fixtures.Budgets())
	if err != nil {
		t.Fatal(err)
	}
	m := Measured{
		Latency: []PathLatency{
			{Path: "/version", Samples: 200, P95: 19},
			{Path: "/api/v1/nodes", Samples: 200, Errors: 2, P95: 51},
		},
		TLS:      &TLSReport{DaysToExpiry: 29.5},
		Versions: []VersionSupport{{Version: "TLS 1.0", Accepted: true}, {Version: "TLS 1.2", Accepted: true}},
	}
	got, err := b.Evaluate("none", m)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"p95 GET /version": true, "errors GET /version": true,
		"p95 GET /api/v1/nodes": false, "errors GET /api/v1/nodes": false,
		"TLS days to expiry": false, "TLS versions accepted": false,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d verdicts %+v; want %d", len(got), got, len(want))
	}
	for _, v := range got {
		if w, ok := want[v.Item]; !ok || w != v.Pass {
			t.Errorf("verdict %q pass = %v (%s); want %v", v.Item, v.Pass, v.Text, w)
		}
		if !strings.Contains(v.Text, v.Measured) || !strings.Contains(v.Text, v.Budget) {
			t.Errorf("verdict text %q lacks the measured value %q or the budget %q", v.Text, v.Measured, v.Budget)
		}
	}
	// The same p95 is within budget cross-region (30*2+20 = 80 ms).
	got, _ = b.Evaluate("cross-region", Measured{Latency: m.Latency[1:]})
	if !got[0].Pass || got[0].Budget != "<= 110.000 ms (RTT 30 ms)" {
		t.Errorf("cross-region /api/v1/nodes verdict %+v; want a pass against <= 110 ms", got[0])
	}
	// All requests failed: the quantile is no evidence.
	got, _ = b.Evaluate("none", Measured{Latency: []PathLatency{{Path: "/version", Samples: 5, Errors: 5}}})
	if got[0].Pass {
		t.Errorf("all failed: %+v; want a failure", got[0])
	}
	if _, err := b.Evaluate("moon", m); err == nil {
		t.Error("unknown profile: no error")
	}
}
