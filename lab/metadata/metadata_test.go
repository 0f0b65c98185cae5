package metadata

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string, flavor bool) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if flavor {
		req.Header.Set("Metadata-Flavor", "Google")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("ETag")
}

func TestSetMetadataFingerprintAndLimits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "metadata.json")
	s, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	_, fp0 := s.Metadata("vm")
	if err := s.SetMetadata("vm", fp0, []Item{{"a", "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMetadata("vm", fp0, []Item{{"a", "2"}}); !errors.Is(err, ErrFingerprint) {
		t.Fatalf("a stale fingerprint: %v, want ErrFingerprint", err)
	}
	items, fp1 := s.Metadata("vm")
	if fp1 == fp0 || len(items) != 1 || items[0].Value != "1" {
		t.Fatalf("after one update: %v %q (was %q)", items, fp1, fp0)
	}
	// The same items again still change the fingerprint, as GCE's does.
	if err := s.SetMetadata("vm", fp1, items); err != nil {
		t.Fatal(err)
	}
	if _, fp2 := s.Metadata("vm"); fp2 == fp1 {
		t.Fatal("an update kept the fingerprint")
	}
	for name, bad := range map[string][]Item{
		"bad key":   {{"a b", "x"}},
		"duplicate": {{"a", "1"}, {"a", "2"}},
		"too big":   {{"a", strings.Repeat("x", MaxValue+1)}},
		"total":     {{"a", strings.Repeat("x", MaxValue)}, {"b", strings.Repeat("x", MaxValue)}},
	} {
		var inv *InvalidError
		if err := Validate(bad); !errors.As(err, &inv) {
			t.Errorf("%s: %v, want InvalidError", name, err)
		}
	}
	// The file keeps it.
	again, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := again.Value("vm", "a"); !ok || v != "1" {
		t.Fatalf("reopened: %q %v", v, ok)
	}
}

func TestMetadataServer(t *testing.T) {
	s, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(Instance{Name: "vm", Zone: "us-central1-a", Project: "p", ProjectNumber: 123, IP: "10.0.0.2"}))
	defer srv.Close()
	base := srv.URL + "/computeMetadata/v1/"

	if code, _, _ := get(t, base+"instance/name", false); code != http.StatusForbidden {
		t.Fatalf("without Metadata-Flavor: %d, want 403", code)
	}
	if code, body, _ := get(t, base+"instance/zone", true); code != 200 || body != "projects/123/zones/us-central1-a" {
		t.Fatalf("zone: %d %q", code, body)
	}
	if code, _, _ := get(t, base+"instance/attributes/startup-script", true); code != http.StatusNotFound {
		t.Fatalf("a missing key: %d, want 404", code)
	}
	// A guest attribute needs enable-guest-attributes=TRUE.
	put := func(key, value string) int {
		req, _ := http.NewRequest(http.MethodPut, base+"instance/guest-attributes/"+key, strings.NewReader(value))
		req.Header.Set("Metadata-Flavor", "Google")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put("ns/k", "v"); code != http.StatusForbidden {
		t.Fatalf("guest attribute while disabled: %d, want 403", code)
	}
	_, fp := s.Metadata("vm")
	if err := s.SetMetadata("vm", fp, []Item{{"enable-guest-attributes", "TRUE"}, {"job", "1"}}); err != nil {
		t.Fatal(err)
	}
	if code := put("ns/k", "v"); code != 200 {
		t.Fatalf("guest attribute: %d", code)
	}
	if code := put("ns/big", strings.Repeat("x", MaxGuestValue+1)); code != http.StatusBadRequest {
		t.Fatalf("an oversized guest attribute: %d, want 400", code)
	}
	if g := s.Guest("vm", "ns/"); len(g) != 1 || g[0].Key != "k" || g[0].Value != "v" {
		t.Fatalf("guest attributes: %+v", g)
	}

	// wait_for_change: answers at once for another ETag, waits for a change, and answers the
	// same value when the time is up.
	_, body, etag := get(t, base+"instance/attributes/job", true)
	if body != "1" || etag == "" {
		t.Fatalf("job: %q etag %q", body, etag)
	}
	start := time.Now()
	code, body, etag2 := get(t, base+"instance/attributes/job?wait_for_change=true&timeout_sec=1&last_etag="+etag, true)
	if code != 200 || body != "1" || etag2 != etag || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("unchanged: %d %q after %s", code, body, time.Since(start))
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, fp := s.Metadata("vm")
		_ = s.SetMetadata("vm", fp, []Item{{"enable-guest-attributes", "TRUE"}, {"job", "2"}})
	}()
	start = time.Now()
	_, body, etag3 := get(t, base+"instance/attributes/job?wait_for_change=true&timeout_sec=10&last_etag="+etag, true)
	if body != "2" || etag3 == etag || time.Since(start) > 5*time.Second {
		t.Fatalf("changed: %q etag %q after %s", body, etag3, time.Since(start))
	}
	if _, body, _ := get(t, base+"instance/attributes/?recursive=true", true); !strings.Contains(body, `"job":"2"`) {
		t.Fatalf("recursive: %s", body)
	}
}
