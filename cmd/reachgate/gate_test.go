package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"reachgate/framework/gate"
	"reachgate/framework/probe"
	"reachgate/reports"
)

// gate check --junit: a testcase per baseline flow and per changed setting, failed exactly
// where the check found a regression.
func TestGateJUnit(t *testing.T) {
	now := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	base := &gate.Snapshot{Version: gate.Version, Taken: now.Add(-time.Hour), Flows: []gate.Flow{
		{From: "tp-vm", To: "192.168.32.34:443", Outcome: probe.Connected},
		{From: "tp-vm2", To: "192.168.32.34:443", Outcome: probe.Connected}}}
	cur := &gate.Snapshot{Version: gate.Version, Taken: now, Flows: []gate.Flow{
		{From: "tp-vm", To: "192.168.32.34:443", Outcome: probe.Timeout, Why: "no route back"},
		{From: "tp-vm2", To: "192.168.32.34:443", Outcome: probe.Connected}},
		Peerings: []gate.Peering{{Network: "gke", Name: "p"}}}
	base.Peerings = []gate.Peering{{Network: "gke", Name: "p", ExportCustomRoutes: true}}
	r, err := gate.Compare(base, cur)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gate.xml")
	if err := writeGateJUnit(path, base, r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc reports.Suites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if doc.Tests != 3 || doc.Failures != 1 || len(doc.Suites) != 1 {
		t.Fatalf("tests %d failures %d suites %d; want 3 testcases (2 flows, 1 setting), 1 failure:\n%s", doc.Tests, doc.Failures, len(doc.Suites), data)
	}
	for _, c := range doc.Suites[0].Cases {
		failed := c.Failure != nil
		if want := c.Name == "flow tp-vm -> 192.168.32.34:443"; failed != want {
			t.Errorf("%s: failed %v, want %v", c.Name, failed, want)
		}
	}
}
