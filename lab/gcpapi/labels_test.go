package gcpapi

import (
	"net/http"
	"strings"
	"testing"

	"reachgate/lab"
)

// setLabels on the HA VPN resources the lab records keeps the labels: each is read back with
// them and a new fingerprint, and the old fingerprint is refused afterwards.
func TestSetLabelsOnVPNResources(t *testing.T) {
	for _, tc := range []struct{ path, name string }{
		{"regions/us-central1/vpnGateways", "gke-ha-vpn"},
		{"global/externalVpnGateways", "aws-vpn-gw"},
		{"regions/us-central1/vpnTunnels", "tunnel-1"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			s, hs := newServerWith(t, "bgp-export.yaml", haVPNState())
			// Mutations go through cloud.json, as in a lab.
			if err := s.cloud.L.UpdateCloud(func(cs *lab.CloudState) error { *cs = *haVPNState(); return nil }); err != nil {
				t.Fatal(err)
			}
			url := hs.URL + "/compute/v1/projects/p/" + tc.path + "/" + tc.name
			code, before := call(t, http.MethodGet, url, "")
			if code != http.StatusOK {
				t.Fatalf("get: %d %v", code, before)
			}
			fp, _ := before["labelFingerprint"].(string)
			code, op := call(t, http.MethodPost, url+"/setLabels", `{"labels": {"cost-center": "42"}, "labelFingerprint": "`+fp+`"}`)
			if code != http.StatusOK {
				t.Fatalf("setLabels: %d %v", code, op)
			}
			name, _ := op["name"].(string)
			scope := "global"
			if tc.path != "global/externalVpnGateways" {
				scope = "regions/us-central1"
			}
			if code, done := call(t, http.MethodPost, hs.URL+"/compute/v1/projects/p/"+scope+"/operations/"+name+"/wait", ""); code != http.StatusOK ||
				done["status"] != "DONE" || done["error"] != nil {
				t.Fatalf("operation: %d %v", code, done)
			}
			_, after := call(t, http.MethodGet, url, "")
			labels, _ := after["labels"].(map[string]any)
			if labels["cost-center"] != "42" || after["labelFingerprint"] == fp {
				t.Errorf("after setLabels: labels %v, fingerprint %v (was %s)", after["labels"], after["labelFingerprint"], fp)
			}
			if code, _ := call(t, http.MethodPost, url+"/setLabels", `{"labels": {}, "labelFingerprint": "`+fp+`"}`); code != http.StatusPreconditionFailed {
				t.Errorf("setLabels with the old fingerprint: %d; want 412", code)
			}
		})
	}
}

// Compute's label rules: keys start with a lowercase letter; keys and values hold up to 63
// lowercase (or caseless) letters, digits, '_' and '-'; at most 64 labels.
func TestLabelProblem(t *testing.T) {
	many := map[string]string{}
	for i := range 65 {
		many["k"+strings.Repeat("a", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	for _, c := range []struct {
		labels map[string]string
		ok     bool
	}{
		{map[string]string{"team": "net-ops_1", "ré": "é", "k": ""}, true},
		{map[string]string{"a" + strings.Repeat("b", 62): strings.Repeat("c", 63)}, true},
		{map[string]string{"漢字": "x"}, false},    // a key starts with a lowercase letter
		{map[string]string{"x漢字": "字"}, true},    // caseless letters after it
		{map[string]string{"Team": "x"}, false},  // uppercase
		{map[string]string{"1team": "x"}, false}, // digit first
		{map[string]string{"team": "A"}, false},
		{map[string]string{"team": "a.b"}, false},
		{map[string]string{"": "x"}, false},
		{map[string]string{"a" + strings.Repeat("b", 63): "x"}, false},
		{map[string]string{"team": strings.Repeat("c", 64)}, false},
		{many, false},
	} {
		if p := labelProblem(c.labels); (p == "") != c.ok {
			t.Errorf("labelProblem(%v) = %q; want ok %v", c.labels, p, c.ok)
		}
	}
}
