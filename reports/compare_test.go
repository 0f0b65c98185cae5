package reports

import (
	"bytes"
	"strings"
	"testing"

	"reachgate/framework/probe"
)

func TestCompare(t *testing.T) {
	psc := Labels{Solution: "psc-endpoint"}
	bgp := Labels{Solution: "bgp-export", Variant: "hardened"}
	l7 := Labels{Solution: "ilb-proxy", Variant: "hardened", Proxy: "go-l7"}
	seed := Labels{Solution: "ilb-proxy", Variant: "seed", Proxy: "nginx"}
	res := &Results{
		Suites: []SuiteResult{{Name: "s", Specs: []SpecResult{
			{Name: "psc get", Matrix: psc, State: "passed"},
			{Name: "psc times out without global access [solution, psc-endpoint, failure-mode]", Matrix: psc, State: "passed", Labels: []string{LabelFailureMode}},
			{Name: "psc times out without global access [solution, psc-endpoint, failure-mode]", Matrix: psc, State: "passed", Labels: []string{LabelFailureMode}},
			{Name: "psc skipped", Matrix: psc, State: "skipped"},
			{Name: "bgp get", Matrix: bgp, State: "passed"},
			{Name: "bgp times out without export", Matrix: bgp, State: "failed", Labels: []string{LabelFailureMode}},
			{Name: "l7 get", Matrix: l7, State: "passed"},
			{Name: "seed curl", Matrix: seed, State: "failed"},
			{Name: "baseline", Matrix: Labels{Solution: "baseline"}, State: "passed"},
		}}},
		Measurements: []Measurement{
			{Labels: psc, Probe: &probe.Report{Latency: []probe.PathLatency{{Path: "/version", P50: 1.5, P95: 2.5}, {Path: "/api/v1/nodes", P95: 9}}}},
			{Labels: psc, Probe: &probe.Report{Latency: []probe.PathLatency{{Path: "/version", P50: 1.0, P95: 4.0}}}},
		},
		Footprints: []Footprint{
			{Labels: psc, Cloud: []string{"cluster/c masterGlobalAccess"}, Kube: []string{"serviceaccount default/a", "configmap kube-system/r"}},
			{Labels: bgp, Cloud: []string{"vpnGateway/g", "vpnTunnel/t1"}, Kube: []string{"serviceaccount default/b"}},
			{Labels: l7, Cloud: []string{"address/a"}, Kube: []string{"deployment default/p"}},
		},
		Findings: []Finding{{ID: "RG-X", Solution: "ilb-proxy", Variant: "seed", Proxy: "nginx"}, {ID: "RG-Y", Solution: "bgp-export"}},
	}
	rows := Compare(res)
	if len(rows) != 3 {
		t.Fatalf("rows %+v; want psc-endpoint, bgp-export, ilb-proxy (go-l7): no seed, no baseline", rows)
	}
	p, b, i := rows[0], rows[1], rows[2]
	if p.Key() != "psc-endpoint" || p.Verdict != "pass" || p.Specs != 3 || p.Passed != 3 || p.Cloud != 1 || p.Kube != 2 ||
		len(p.FailureModes) != 1 || p.Measured != 2 || p.P95 != 4.0 || p.P50 != 1.0 || p.Findings != 0 {
		t.Errorf("psc row %+v", p)
	}
	if b.Verdict != "FAIL" || b.Passed != 1 || len(b.FailureModes) != 0 || b.Measured != 0 || b.Findings != 1 {
		t.Errorf("bgp row %+v: a failed failure-mode spec proves nothing and fails the row", b)
	}
	if i.Key() != "ilb-proxy (go-l7)" || i.Verdict != "pass" || i.Findings != 0 || i.SeedFindings != 1 {
		t.Errorf("ilb-proxy row %+v", i)
	}
	var out bytes.Buffer
	if err := WriteCompare(&out, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"psc-endpoint", "1.0 / 4.0 ms", "not measured", "ilb-proxy (go-l7)", "psc times out without global access"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// A seed variant's known defect, proven by a failing check marked Expected, is a finding in
// the matrix, not a red FAIL; an unexpected failing check stays FAIL.
func TestMatrixExpectedCheckIsAFinding(t *testing.T) {
	seed := Labels{Solution: "ilb-proxy", Variant: "seed", Proxy: "nginx"}
	res := &Results{Suites: []SuiteResult{{Name: "tls", Specs: []SpecResult{
		{Name: "impostor", Matrix: seed, State: "passed", Checks: []probe.Check{{Name: "upstream-verified", Expected: true, Reason: "relayed"}}},
		{Name: "versions", Matrix: seed, State: "passed", Checks: []probe.Check{{Name: "tls-versions", Reason: "TLS 1.0 accepted"}}},
	}}}}
	m := buildMatrix(res)
	col := func(name string) cell {
		for i, c := range m.Columns {
			if c == name {
				return m.Rows[0].Cells[i]
			}
		}
		t.Fatalf("no column %s in %v", name, m.Columns)
		return cell{}
	}
	if c := col("upstream-verified"); c.Class != "finding" || !strings.Contains(c.Reasons, "FINDING") {
		t.Errorf("expected failure: %+v; want class finding", c)
	}
	if c := col("tls-versions"); c.Class != "bad" || c.Text != "FAIL" {
		t.Errorf("unexpected failure: %+v; want FAIL", c)
	}
}
