package gcpapi

import (
	"net/http"
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
