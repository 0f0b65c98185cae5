package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"reachgate/framework/pki"
)

// testCA signs leaf certificates for the TLS tests.
type testCA struct {
	kp  *pki.KeyPair
	pem []byte
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	// Valid from a year ago: the chain is checked at the leaf's own dates, expired ones too.
	now := time.Now()
	kp, err := pki.NewCAWith(pki.CertSpec{CommonName: cn, NotBefore: now.Add(-24 * time.Hour * 365), NotAfter: now.Add(24 * time.Hour * 3650)})
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{kp: kp, pem: kp.CertPEM}
}

// leaf issues a server certificate valid from nb to na for the given SANs.
func (ca *testCA) leaf(t *testing.T, nb, na time.Time, ips []net.IP, dns ...string) tls.Certificate {
	t.Helper()
	kp, err := ca.kp.Issue(pki.CertSpec{CommonName: "server", IPs: ips, DNSNames: dns,
		Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	return kp.TLSCertificate()
}

// serveTLS runs an HTTPS server on loopback with cert and the version range; it answers
// 200 "ok" to every request.
func serveTLS(t *testing.T, cert tls.Certificate, minV, maxV uint16) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV, MaxVersion: maxV},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

var loopback = []net.IP{net.IPv4(127, 0, 0, 1)}

func checkByName(checks []Check, name string) (Check, bool) {
	for _, c := range checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func TestInspectTLS(t *testing.T) {
	t.Parallel()
	ca, other := newTestCA(t, "solution CA"), newTestCA(t, "impostor CA")
	now := time.Now()
	year := 365 * 24 * time.Hour
	tests := []struct {
		name       string
		cert       tls.Certificate
		caPEM      []byte
		serverName string
		want       map[string]bool // check -> pass
		reason     map[string]string
	}{
		{"valid", ca.leaf(t, now.Add(-time.Hour), now.Add(year), loopback), ca.pem, "",
			map[string]bool{CheckChain: true, CheckSAN: true, CheckExpiry: true}, nil},
		{"valid by DNS name", ca.leaf(t, now.Add(-time.Hour), now.Add(year), nil, "kubernetes.default"), ca.pem, "kubernetes.default",
			map[string]bool{CheckChain: true, CheckSAN: true, CheckExpiry: true}, nil},
		{"unknown CA", other.leaf(t, now.Add(-time.Hour), now.Add(year), loopback), ca.pem, "",
			map[string]bool{CheckChain: false, CheckSAN: true, CheckExpiry: true}, map[string]string{CheckChain: "unknown authority"}},
		{"wrong SAN", ca.leaf(t, now.Add(-time.Hour), now.Add(year), []net.IP{net.IPv4(10, 128, 0, 99)}), ca.pem, "",
			map[string]bool{CheckChain: true, CheckSAN: false, CheckExpiry: true}, map[string]string{CheckSAN: "does not cover 127.0.0.1"}},
		{"expired", ca.leaf(t, now.Add(-60*24*time.Hour), now.Add(-24*time.Hour), loopback), ca.pem, "",
			map[string]bool{CheckChain: true, CheckSAN: true, CheckExpiry: false}, map[string]string{CheckExpiry: "expired on"}},
		{"expires within the budget", ca.leaf(t, now.Add(-time.Hour), now.Add(10*24*time.Hour), loopback), ca.pem, "",
			map[string]bool{CheckChain: true, CheckSAN: true, CheckExpiry: false}, map[string]string{CheckExpiry: "budget >= 30 days"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := serveTLS(t, tt.cert, tls.VersionTLS12, 0)
			rep, err := InspectTLS(context.Background(), &netDialer{}, TLSRequest{Addr: addr, CAPEM: tt.caPEM, ServerName: tt.serverName})
			if err != nil {
				t.Fatalf("InspectTLS: %v", err)
			}
			for name, want := range tt.want {
				c, ok := checkByName(rep.Checks, name)
				if !ok {
					t.Fatalf("no check %s in %+v", name, rep.Checks)
				}
				if c.Pass != want {
					t.Errorf("check %s pass = %v (%s); want %v", name, c.Pass, c.Reason, want)
				}
				if sub := tt.reason[name]; sub != "" && !strings.Contains(c.Reason, sub) {
					t.Errorf("check %s reason %q; want it to contain %q", name, c.Reason, sub)
				}
			}
			sum := sha256.Sum256(tt.cert.Certificate[0])
			if rep.LeafSHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("leaf fingerprint %s; want %x", rep.LeafSHA256, sum)
			}
			if rep.Version != "TLS 1.3" || rep.Cipher == "" {
				t.Errorf("negotiated %q %q; want TLS 1.3 and a cipher", rep.Version, rep.Cipher)
			}
		})
	}
}

func TestInspectTLSErrors(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	if _, err := InspectTLS(context.Background(), &netDialer{}, TLSRequest{Addr: "127.0.0.1:1", CAPEM: []byte("x")}); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Errorf("bad CA: error %v; want one naming the missing PEM certificate", err)
	}
	if _, err := InspectTLS(context.Background(), &netDialer{}, TLSRequest{Addr: "no-port", CAPEM: ca.pem}); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("bad address: error %v; want one asking for host:port", err)
	}
	// A plain TCP listener that closes at once: the handshake fails and says so.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := InspectTLS(context.Background(), &netDialer{}, TLSRequest{Addr: ln.Addr().String(), CAPEM: ca.pem}); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("non-TLS server: error %v; want a handshake error", err)
	}
}

func TestProbeVersions(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	cert := ca.leaf(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour*24*365), loopback)
	tests := []struct {
		name       string
		minV, maxV uint16
		accepted   []string
		pass       bool
	}{
		{"1.2 and 1.3", tls.VersionTLS12, tls.VersionTLS13, []string{"TLS 1.2", "TLS 1.3"}, true},
		{"1.3 only", tls.VersionTLS13, tls.VersionTLS13, []string{"TLS 1.3"}, true},
		{"1.0 to 1.2", tls.VersionTLS10, tls.VersionTLS12, []string{"TLS 1.0", "TLS 1.1", "TLS 1.2"}, false},
		{"1.0 to 1.3", tls.VersionTLS10, tls.VersionTLS13, []string{"TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := serveTLS(t, cert, tt.minV, tt.maxV)
			vs, err := ProbeVersions(context.Background(), &netDialer{}, addr, "", 0)
			if err != nil {
				t.Fatalf("ProbeVersions: %v", err)
			}
			if len(vs) != 4 {
				t.Fatalf("got %d versions; want 4", len(vs))
			}
			var got []string
			for _, v := range vs {
				if v.Accepted {
					got = append(got, v.Version)
				} else if v.Error == "" {
					t.Errorf("%s refused without an error text", v.Version)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.accepted, ",") {
				t.Errorf("accepted %v; want %v", got, tt.accepted)
			}
			c := VersionsCheck(vs, tls.VersionTLS12)
			if c.Pass != tt.pass {
				t.Errorf("VersionsCheck pass = %v (%s); want %v", c.Pass, c.Reason, tt.pass)
			}
		})
	}
	if _, err := ProbeVersions(context.Background(), &netDialer{}, closedPort(t), "", time.Second); err == nil {
		t.Error("ProbeVersions against a closed port: no error; want the dial error")
	}
}

func TestVersionsCheckNoneAccepted(t *testing.T) {
	t.Parallel()
	c := VersionsCheck([]VersionSupport{{Version: "TLS 1.2"}, {Version: "TLS 1.3"}}, tls.VersionTLS12)
	if c.Pass || !strings.Contains(c.Reason, "no TLS version") {
		t.Errorf("VersionsCheck with nothing accepted = %+v; want a failure naming it", c)
	}
}
