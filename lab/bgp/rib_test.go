package bgp

import (
	"reachgate/framework/cloud"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// learned builds a path received from neighbor with next hop nh, MED med, AS path asPath.
func learned(t *testing.T, neighbor, nh string, med uint32, asPath ...uint32) *api.Path {
	t.Helper()
	attrs := []*anypb.Any{
		mustAny(t, &api.OriginAttribute{Origin: 0}),
		mustAny(t, &api.NextHopAttribute{NextHop: nh}),
		mustAny(t, &api.MultiExitDiscAttribute{Med: med}),
		mustAny(t, &api.AsPathAttribute{Segments: []*api.AsSegment{{Type: api.AsSegment_AS_SEQUENCE, Numbers: asPath}}}),
	}
	return &api.Path{Family: ipv4Unicast, NeighborIp: neighbor, Pattrs: attrs}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBestRoutes(t *testing.T) {
	t.Parallel()
	own, err := apiPath(Advertisement{Prefix: "192.168.32.32/28", MED: 100})
	if err != nil {
		t.Fatal(err)
	}
	own.NeighborIp = "<nil>"
	withdrawn := learned(t, "169.254.9.2", "169.254.9.2", 0, 64512)
	withdrawn.IsWithdraw = true
	dests := []*api.Destination{
		{Prefix: "172.31.0.0/16", Paths: []*api.Path{ // best first, as GoBGP lists them
			learned(t, "169.254.2.2", "169.254.2.2", 0, 64512),
			learned(t, "169.254.0.2", "169.254.0.2", 0, 64512),
			learned(t, "169.254.1.2", "169.254.1.2", 0, 64512),
			learned(t, "169.254.3.2", "169.254.3.2", 50, 64512),       // worse MED
			learned(t, "169.254.4.2", "169.254.4.2", 0, 64512, 65000), // longer AS path
			learned(t, "169.254.5.2", "169.254.5.2", 0, 65001),        // other neighbor AS
			learned(t, "169.254.6.2", "169.254.0.2", 0, 64512),        // same next hop twice
		}},
		{Prefix: "10.128.0.0/20", Paths: []*api.Path{learned(t, "169.254.0.2", "169.254.0.2", 7, 64512)}},
		{Prefix: "192.168.32.32/28", Paths: []*api.Path{own, learned(t, "169.254.0.2", "169.254.0.2", 0, 64512, 64514)}},
		{Prefix: "10.0.0.0/8", Paths: []*api.Path{withdrawn}},
		{Prefix: "10.1.0.0/16"},
	}
	got, err := bestRoutes(dests)
	if err != nil {
		t.Fatal(err)
	}
	want := []cloud.BestRoute{
		{DestRange: "10.128.0.0/20", NextHops: []string{"169.254.0.2"}, Priority: 7, ASPath: []uint32{64512}},
		{DestRange: "172.31.0.0/16", NextHops: []string{"169.254.0.2", "169.254.1.2", "169.254.2.2"}, ASPath: []uint32{64512}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bestRoutes (-want +got):\n%s", diff)
	}
}

func TestUptime(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                           "0 seconds",
		59 * time.Second:            "59 seconds",
		61 * time.Second:            "1 minutes, 1 seconds",
		3*time.Hour + 5*time.Second: "3 hours, 0 minutes, 5 seconds",
		8*24*time.Hour + time.Hour:  "1 weeks, 1 days, 1 hours, 0 minutes, 0 seconds",
	} {
		if got := uptime(d); got != want {
			t.Errorf("uptime(%v) = %q; want %q", d, got, want)
		}
	}
}
