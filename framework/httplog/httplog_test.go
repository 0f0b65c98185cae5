package httplog

import (
	"strings"
	"testing"
)

const sample = `WARNING: a line outside the log
=======================
==== request start ====
uri: http://127.0.0.1:8780/compute/v1/projects/reachgate-x/regions/us-central1/vpnTunnels?alt=json
method: POST
== headers start ==
b'user-agent': b'google-cloud-sdk gcloud/528.0.0'
== headers end ==
== body start ==
{"name": "t0", "sharedSecret": "s3cr3t-value", "vpnGateway": "http://127.0.0.1:8780/compute/v1/projects/reachgate-x/regions/us-central1/vpnGateways/gw"}
== body end ==
==== request end ====
---- response start ----
status: 200
-- body start --
{"name":"operation-1796530518159-506744989365","insertTime":"2026-12-06T04:15:18.159749184Z"}
-- body end --
---- response end ----
----------------------
==== request start ====
uri: http://127.0.0.1:8780/compute/v1/projects/reachgate-x/regions/us-central1/operations/operation-1796530518159-506744989365/wait?alt=json
method: POST
== headers start ==
== headers end ==
== body start ==

== body end ==
==== request end ====
---- response start ----
status: 200
---- response end ----
`

func TestParseAndNormalize(t *testing.T) {
	exs := Parse(sample)
	if len(exs) != 2 || exs[0].Method != "POST" || exs[0].Status != "200" || exs[1].Body != "" || !strings.HasSuffix(exs[1].URI, "/wait?alt=json") {
		t.Fatalf("parsed %+v", exs)
	}
	got := Normalize(exs, Vars{"{endpoint}": "http://127.0.0.1:8780", "{project}": "reachgate-x"})
	want := `POST {endpoint}/compute/v1/projects/{project}/regions/us-central1/vpnTunnels?alt=json -> 200
  {
    "name": "t0",
    "sharedSecret": "{secret}",
    "vpnGateway": "{endpoint}/compute/v1/projects/{project}/regions/us-central1/vpnGateways/gw"
  }
`
	if d := Diff(want, got); d != "" {
		t.Errorf("normalized log differs from the expected:\n%s\ngot:\n%s", d, got)
	}
	if strings.Contains(got, "s3cr3t") {
		t.Error("the shared secret reached the golden")
	}
}

func TestDiff(t *testing.T) {
	if d := Diff("a\nb\nc\n", "a\nb\nc\n"); d != "" {
		t.Errorf("equal texts: %q", d)
	}
	got := Diff("a\nb\nc", "a\nx\nc")
	if got != "-b\n+x\n" {
		t.Errorf("got %q", got)
	}
}
