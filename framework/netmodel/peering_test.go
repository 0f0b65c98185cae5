package netmodel

import (
	"testing"

	"reachgate/framework/topology"
)

// exporterWithDynamic is gcp VPC "a" (mode) whose router in us-central1 learned
// 172.31.0.0/16 from third-party "tp", peered with gcp VPC "b" using the given flags.
func exporterWithDynamic(mode string, af, bf flags) *topology.Topology {
	a := withRouter(gcpNet("a", mode, sub("sa", "us-central1", "10.1.0.0/16")), "ra", "us-central1", "")
	b := gcpNet("b", topology.RoutingGlobal, sub("sb", "us-central1", "10.2.0.0/16"))
	tp := withRouter(awsNet("tp", sub("tps", "us-east-1", "172.31.0.0/16")), "tpr", "us-east-1", "")
	return topo([]*topology.Network{a, b, tp}, []*topology.Connection{
		bgp("ic", topology.LinkInterconnect, "tp", "tpr", "a", "ra"),
		peer("ab", "a", af, "b", bf),
	})
}

func TestPeeringRoutes(t *testing.T) {
	t.Parallel()
	psub := func(p, link, hop string, imp bool) r {
		return r{p: p, typ: PeeringSubnet, link: link, hop: hop, origin: hop, imp: imp}
	}
	pdyn := func(region string) r {
		return r{p: "172.31.0.0/16", typ: PeeringDynamic, link: "ab", hop: "a", region: region,
			prio: DefaultDynamicPriority, origin: "tp/tpr", imp: true}
	}
	local := func(p, vpc string) r { return r{p: p, typ: Subnet, origin: vpc} }
	bBase := []r{local("10.2.0.0/16", "b"), psub("10.1.0.0/16", "ab", "a", true)}
	bSorted := func(extra ...r) []r {
		// b's table ordered by prefix: 10.1/16, 10.2/16, then extras (172.31/16).
		return append([]r{bBase[1], bBase[0]}, extra...)
	}
	abc := func() *topology.Topology {
		return topo([]*topology.Network{
			gcpNet("a", topology.RoutingGlobal, sub("sa", "us-central1", "10.1.0.0/16", "pods=10.11.0.0/16")),
			gcpNet("b", topology.RoutingGlobal, sub("sb", "us-central1", "10.2.0.0/16")),
			gcpNet("c", topology.RoutingGlobal, sub("sc", "us-central1", "10.3.0.0/16")),
		}, []*topology.Connection{
			peer("ab", "a", flags{true, true}, "b", flags{true, true}),
			peer("bc", "b", flags{true, true}, "c", flags{true, true}),
		})
	}
	tests := []struct {
		name string
		tp   *topology.Topology
		vpc  string
		want []Route
	}{
		{
			// GCP: subnet routes (primary and secondary) are always exchanged, with no flags.
			name: "subnet routes reach b",
			tp:   abc(),
			vpc:  "b",
			want: want("b", psub("10.1.0.0/16", "ab", "a", true), local("10.2.0.0/16", "b"),
				psub("10.3.0.0/16", "bc", "c", true), psub("10.11.0.0/16", "ab", "a", true)),
		},
		{
			// GCP: the exchange goes both ways.
			name: "subnet routes reach a",
			tp:   abc(),
			vpc:  "a",
			want: want("a", local("10.1.0.0/16", "a"), psub("10.2.0.0/16", "ab", "b", true), local("10.11.0.0/16", "a")),
		},
		{
			// GCP: peering is not transitive — c never learns a's subnets through b, even with
			// every custom-route flag set.
			name: "no transitivity",
			tp:   abc(),
			vpc:  "c",
			want: want("c", psub("10.2.0.0/16", "bc", "b", true), local("10.3.0.0/16", "c")),
		},
		{
			// GCP: custom routes cross only with export on the exporter AND import on the importer.
			name: "export and import: custom route crosses",
			tp:   exporterWithDynamic(topology.RoutingGlobal, flags{export: true}, flags{imp: true}),
			vpc:  "b",
			want: want("b", bSorted(pdyn(""))...),
		},
		{
			// GCP: import alone is not enough.
			name: "import without export",
			tp:   exporterWithDynamic(topology.RoutingGlobal, flags{}, flags{imp: true}),
			vpc:  "b",
			want: want("b", bSorted()...),
		},
		{
			// GCP: export alone is not enough.
			name: "export without import",
			tp:   exporterWithDynamic(topology.RoutingGlobal, flags{export: true}, flags{}),
			vpc:  "b",
			want: want("b", bSorted()...),
		},
		{
			// GCP: neither flag: only subnet routes cross.
			name: "neither flag",
			tp:   exporterWithDynamic(topology.RoutingGlobal, flags{}, flags{}),
			vpc:  "b",
			want: want("b", bSorted()...),
		},
		{
			// GCP: flags on the wrong sides (importer exports, exporter imports) carry nothing.
			name: "flags on the wrong sides",
			tp:   exporterWithDynamic(topology.RoutingGlobal, flags{imp: true}, flags{export: true}),
			vpc:  "b",
			want: want("b", bSorted()...),
		},
		{
			// GCP: a dynamic route crossing a peering keeps the EXPORTER's routing mode: REGIONAL
			// -> only in the region of the Cloud Router that learned it.
			name: "REGIONAL exporter",
			tp:   exporterWithDynamic(topology.RoutingRegional, flags{export: true}, flags{imp: true}),
			vpc:  "b",
			want: want("b", bSorted(pdyn("us-central1"))...),
		},
		{
			// GCP: a local subnet route wins over an import that equals or fits within it; the
			// import is kept with imported=false. Overlapping subnet ranges are shown the same way.
			name: "import conflicting with local subnet",
			tp: func() *topology.Topology {
				tp := exporterWithDynamic(topology.RoutingGlobal, flags{export: true}, flags{imp: true})
				tp.Network("b").Subnets = append(tp.Network("b").Subnets,
					sub("overlap", "us-central1", "172.16.0.0/12"), sub("dup", "us-central1", "10.1.0.0/16"))
				return tp
			}(),
			vpc: "b",
			want: want("b",
				local("10.1.0.0/16", "b"), psub("10.1.0.0/16", "ab", "a", false), local("10.2.0.0/16", "b"),
				local("172.16.0.0/12", "b"),
				r{p: "172.31.0.0/16", typ: PeeringDynamic, link: "ab", hop: "a", prio: DefaultDynamicPriority, origin: "tp/tpr"}),
		},
		{
			// GCP: a local dynamic route with the same destination wins over the import.
			name: "import equal to local dynamic route",
			tp: func() *topology.Topology {
				tp := exporterWithDynamic(topology.RoutingGlobal, flags{export: true}, flags{imp: true})
				b := withRouter(tp.Network("b"), "rb", "us-central1", "")
				tp2 := withRouter(awsNet("tp2", sub("tps2", "us-east-1", "172.31.0.0/16")), "tpr2", "us-east-1", "")
				tp.Networks = append(tp.Networks, tp2)
				tp.Links = append(tp.Links, bgp("ic2", topology.LinkVPN, "tp2", "tpr2", b.Name, "rb"))
				return tp
			}(),
			vpc: "b",
			want: want("b", bSorted(
				r{p: "172.31.0.0/16", typ: Dynamic, link: "ic2", hop: "tp2", prio: DefaultDynamicPriority, origin: "tp2/tpr2"},
				r{p: "172.31.0.0/16", typ: PeeringDynamic, link: "ab", hop: "a", prio: DefaultDynamicPriority, origin: "tp/tpr"})...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			diffRoutes(t, mustCompute(t, tc.tp).Routes(tc.vpc), tc.want)
		})
	}
}

func TestEffectiveSkipsNotImported(t *testing.T) {
	t.Parallel()
	// GCP: routes with imported=false are listed but not used.
	tp := exporterWithDynamic(topology.RoutingGlobal, flags{}, flags{})
	tp.Network("b").Subnets = append(tp.Network("b").Subnets, sub("dup", "us-central1", "10.1.0.0/16"))
	m := mustCompute(t, tp)
	diffRoutes(t, m.Effective("b"), want("b", r{p: "10.1.0.0/16", typ: Subnet, origin: "b"}, r{p: "10.2.0.0/16", typ: Subnet, origin: "b"}))
	if got := len(m.Routes("b")); got != 3 {
		t.Errorf("len(Routes(b)) = %d; want 3", got)
	}
}
