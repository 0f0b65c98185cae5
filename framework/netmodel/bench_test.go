package netmodel_test

import (
	"net/netip"
	"testing"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
)

// BenchmarkExplainSeed is what `reachgate lab explain -f seed.yaml --to IP:PORT` computes:
// parse the topology, compute every VPC's routes, trace one flow both ways with admission.
// The target is < 50 ms per explain; run `make bench-explain` to print it.
func BenchmarkExplainSeed(b *testing.B) {
	src, dst := netip.MustParseAddr("172.31.23.209"), netip.MustParseAddr("192.168.32.34")
	for b.Loop() {
		t, err := topology.ParseFile("../../fixtures/topologies/seed.yaml")
		if err != nil {
			b.Fatal(err)
		}
		m, err := netmodel.Compute(t)
		if err != nil {
			b.Fatal(err)
		}
		if tr := m.TraceFlow(src, dst, netmodel.Flow{Proto: "tcp", Port: 443}); tr.Reachable {
			b.Fatal("baseline must be unreachable")
		}
	}
}
