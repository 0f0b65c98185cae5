package dnsserver_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reachgate/lab/internal/syncbuf"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"reachgate/lab/dnsserver"
)

// logBuffer is a goroutine-safe log sink.
type logBuffer = syncbuf.Buffer

// gkeGoog is the private zone of the third-party VPC: gke.goog to the private API VIPs,
// with one name pinned elsewhere.
var gkeGoog = dnsserver.File{Zones: []dnsserver.Zone{{
	Name: "GKE.goog",
	Records: []dnsserver.Record{
		{Name: "*.gke.goog.", A: []string{"199.36.153.8", "199.36.153.9"}},
		{Name: "x.gke.goog", A: []string{"10.0.0.1"}},
	},
}}}

// start runs a server for the zone file at path on a loopback UDP port; it returns the
// server's address and its log.
func start(t *testing.T, path string) (string, *logBuffer) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	logs := &logBuffer{}
	s := dnsserver.New(path, slog.New(slog.NewTextHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return pc.LocalAddr().String(), logs
}

// resolver is Go's own stub resolver, sending every query to addr.
func resolver(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

func lookup(t *testing.T, r *net.Resolver, name string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, name)
	slices.Sort(addrs)
	return addrs, err
}

func writeZones(t *testing.T, path string, f dnsserver.File) {
	t.Helper()
	if err := dnsserver.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
}

func wantAddrs(t *testing.T, r *net.Resolver, name string, want ...string) {
	t.Helper()
	got, err := lookup(t, r, name)
	if err != nil {
		t.Fatalf("LookupHost(%s): %v", name, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("LookupHost(%s) = %v, want %v", name, got, want)
	}
}

func wantNotFound(t *testing.T, r *net.Resolver, name string) {
	t.Helper()
	got, err := lookup(t, r, name)
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("LookupHost(%s) = %v, %v; want a not-found *net.DNSError", name, got, err)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "zones.json")
	writeZones(t, path, gkeGoog)
	addr, logs := start(t, path)
	r := resolver(addr)

	wantAddrs(t, r, "gke-1a2b3c.us-central1.gke.goog.", "199.36.153.8", "199.36.153.9")
	wantAddrs(t, r, "Storage.GKE.goog.", "199.36.153.8", "199.36.153.9")
	wantAddrs(t, r, "x.gke.goog.", "10.0.0.1")
	wantNotFound(t, r, "gke.goog.")         // the apex has no record
	wantNotFound(t, r, "www.example.com.")  // outside every zone: no upstream
	wantNotFound(t, r, "gke.goog.example.") // a suffix match is not enough
	wantNotFound(t, r, "xgke.goog.")        // nor a string suffix

	out := logs.String()
	for _, want := range []string{"name=x.gke.goog.", "type=A", "rcode=NOERROR", "answers=1", "zone=\"no zone\"", "rcode=NXDOMAIN"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestZoneFileChanges(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "zones.json")
	addr, logs := start(t, path)
	r := resolver(addr)

	// No file yet: no zones.
	wantNotFound(t, r, "x.gke.goog.")

	writeZones(t, path, gkeGoog)
	wantAddrs(t, r, "x.gke.goog.", "10.0.0.1")

	// Rewritten while running: the next query sees it.
	changed := dnsserver.File{Zones: []dnsserver.Zone{{Name: "gke.goog.", Records: []dnsserver.Record{
		{Name: "x.gke.goog.", A: []string{"10.0.0.2"}},
	}}}}
	writeZones(t, path, changed)
	wantAddrs(t, r, "x.gke.goog.", "10.0.0.2")
	wantNotFound(t, r, "y.gke.goog.") // the wildcard is gone

	// Malformed: the last good zones stay, and the error is logged once.
	if err := os.WriteFile(path, []byte(`{"zones":[{"name":"gke.goog.","records":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	wantAddrs(t, r, "x.gke.goog.", "10.0.0.2")
	wantAddrs(t, r, "x.gke.goog.", "10.0.0.2")
	if n := strings.Count(logs.String(), "keeping the last good zones"); n != 1 {
		t.Errorf("malformed file logged %d times, want once:\n%s", n, logs.String())
	}

	// An address that is not IPv4 is malformed too.
	bad := dnsserver.File{Zones: []dnsserver.Zone{{Name: "gke.goog.", Records: []dnsserver.Record{
		{Name: "x.gke.goog.", A: []string{"2001:db8::1"}},
	}}}}
	writeZones(t, path, bad)
	wantAddrs(t, r, "x.gke.goog.", "10.0.0.2")

	// Removed: no zones again.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, r, "x.gke.goog.")
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := dnsserver.ReadFile(filepath.Join(dir, "missing.json"))
	if err != nil || len(f.Zones) != 0 {
		t.Fatalf("ReadFile(missing) = %+v, %v; want empty, nil", f, err)
	}
	path := filepath.Join(dir, "zones.json")
	writeZones(t, path, gkeGoog)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	got, err := dnsserver.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Zones) != 1 || len(got.Zones[0].Records) != 2 || got.Zones[0].Records[0].A[1] != "199.36.153.9" {
		t.Errorf("ReadFile = %+v, want the file written", got)
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dnsserver.ReadFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadFile(malformed) error = %v, want one naming the file", err)
	}
}

// exchange sends one raw query and parses the reply.
func exchange(t *testing.T, addr string, h dnsmessage.Header, name string, qtype dnsmessage.Type) (dnsmessage.Header, []dnsmessage.Question, []dnsmessage.Resource) {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, h)
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: qtype, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	query, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(query); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read reply for %s: %v", name, err)
	}
	var msg dnsmessage.Message
	if err := msg.Unpack(buf[:n]); err != nil {
		t.Fatalf("unpack reply for %s: %v", name, err)
	}
	return msg.Header, msg.Questions, msg.Answers
}

func TestMessageBits(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "zones.json")
	writeZones(t, path, gkeGoog)
	addr, _ := start(t, path)

	tests := []struct {
		name     string
		qname    string
		qtype    dnsmessage.Type
		opcode   dnsmessage.OpCode
		rd       bool
		rcode    dnsmessage.RCode
		aa       bool
		nAnswers int
	}{
		{"wildcard A", "Api.GKE.goog.", dnsmessage.TypeA, 0, true, dnsmessage.RCodeSuccess, true, 2},
		{"AAAA is NODATA", "api.gke.goog.", dnsmessage.TypeAAAA, 0, true, dnsmessage.RCodeSuccess, true, 0},
		{"in zone, no record", "gke.goog.", dnsmessage.TypeA, 0, false, dnsmessage.RCodeNameError, true, 0},
		{"no zone", "example.com.", dnsmessage.TypeA, 0, true, dnsmessage.RCodeNameError, false, 0},
		{"status opcode", "x.gke.goog.", dnsmessage.TypeA, 2, true, dnsmessage.RCodeNotImplemented, false, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := uint16(0x1200 + i)
			h, qs, ans := exchange(t, addr, dnsmessage.Header{ID: id, OpCode: tc.opcode, RecursionDesired: tc.rd}, tc.qname, tc.qtype)
			if h.ID != id || !h.Response || h.RCode != tc.rcode || h.Authoritative != tc.aa ||
				h.RecursionDesired != tc.rd || !h.RecursionAvailable || h.OpCode != tc.opcode {
				t.Errorf("header %+v; want ID %#x, response, rcode %v, AA %v, RD %v, RA", h, id, tc.rcode, tc.aa, tc.rd)
			}
			if len(qs) != 1 || qs[0].Name.String() != tc.qname || qs[0].Type != tc.qtype {
				t.Errorf("questions %v; want %s %v echoed", qs, tc.qname, tc.qtype)
			}
			if len(ans) != tc.nAnswers {
				t.Fatalf("%d answers, want %d: %v", len(ans), tc.nAnswers, ans)
			}
			for _, a := range ans {
				if a.Header.TTL != 5 || a.Header.Type != dnsmessage.TypeA || a.Header.Name.String() != tc.qname {
					t.Errorf("answer header %+v; want %s A TTL 5", a.Header, tc.qname)
				}
			}
		})
	}

	// Garbage is ignored: the server stays up and answers the next query.
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := exchange(t, addr, dnsmessage.Header{ID: 7}, "x.gke.goog.", dnsmessage.TypeA); h.RCode != dnsmessage.RCodeSuccess {
		t.Errorf("after garbage: rcode %v", h.RCode)
	}
}
