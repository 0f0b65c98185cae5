package gcpapi

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"

	"reachgate/framework/topology"
)

// firewalls.insert and patch bodies as the lab's rules: GCP's defaults, patches that keep what
// the body leaves out, and 400 for what GCP refuses or the lab does not model.
func TestFirewallRuleFromBody(t *testing.T) {
	s, _ := newServer(t)
	base := &topology.Rule{Name: "r", Priority: 900, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Ports: []topology.PortRange{{Proto: "tcp", Lo: 22, Hi: 22}}}
	for _, tc := range []struct {
		name, body string
		base       *topology.Rule
		want       string // the rule as "deny priority sources ports", or "400"
	}{
		{"insert defaults", `{"name":"r","sourceRanges":["172.31.0.0/16"],"allowed":[{"IPProtocol":"tcp","ports":["443","30000-32767"]}]}`, nil,
			"false 1000 [172.31.0.0/16] [tcp:443 tcp:30000-32767]"},
		{"deny all protocols, a host source", `{"name":"r","priority":10,"sourceRanges":["172.31.1.1"],"denied":[{"IPProtocol":"all"}]}`, nil,
			"true 10 [172.31.1.1/32] [all]"},
		{"patch priority keeps the rest", `{"priority":1100}`, base, "false 1100 [10.0.0.0/8] [tcp:22]"},
		{"egress", `{"name":"r","direction":"EGRESS","sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"tcp"}]}`, nil, "400"},
		{"allowed and denied", `{"name":"r","sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"tcp"}],"denied":[{"IPProtocol":"udp"}]}`, nil, "400"},
		{"source tags", `{"name":"r","sourceTags":["web"],"allowed":[{"IPProtocol":"tcp"}]}`, nil, "400"},
		{"bad range", `{"name":"r","sourceRanges":["10.0.0.0/33"],"allowed":[{"IPProtocol":"tcp"}]}`, nil, "400"},
		{"bad port", `{"name":"r","sourceRanges":["10.0.0.0/8"],"allowed":[{"IPProtocol":"tcp","ports":["http"]}]}`, nil, "400"},
	} {
		var in computepb.Firewall
		if err := protojson.Unmarshal([]byte(tc.body), &in); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.base != nil {
			in.Name = &tc.base.Name
		}
		rec := httptest.NewRecorder()
		got := "400"
		if r, ok := s.firewallRule(rec, &in, tc.base); ok {
			got = fmtRule(r)
		} else if rec.Code != 400 {
			t.Errorf("%s: refused with %d, want 400", tc.name, rec.Code)
		}
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if base.Priority != 900 {
		t.Errorf("a patch changed the rule it started from: %+v", base)
	}
}

func fmtRule(r topology.Rule) string {
	return fmt.Sprint(r.Deny, " ", r.Priority, " ", r.Sources, " ", r.Ports)
}
