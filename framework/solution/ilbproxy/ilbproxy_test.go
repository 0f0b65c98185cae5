package ilbproxy

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/netip"
	"reachgate/framework/pki"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"reachgate/fixtures"
)

var ilbAddr = netip.MustParseAddr("10.128.0.28")

// tlsSecret is what serve stores: a leaf for ip from a fresh CA, valid for validity.
func tlsSecret(t *testing.T, ip netip.Addr, validity time.Duration) map[string][]byte {
	t.Helper()
	ca, err := pki.NewCA("test CA", 5*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.CertSpec{CommonName: ip.String(), IPs: []net.IP{net.IP(ip.AsSlice())},
		DNSNames: []string{"kubernetes.default"}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: validity})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{corev1.TLSCertKey: leaf.CertPEM, corev1.TLSPrivateKeyKey: leaf.KeyPEM, "ca.crt": ca.CertPEM}
}

func TestCertFits(t *testing.T) {
	t.Parallel()
	year := 365 * 24 * time.Hour
	good := tlsSecret(t, ilbAddr, year)
	otherCA := tlsSecret(t, ilbAddr, year)
	tests := []struct {
		name string
		data map[string][]byte
		addr netip.Addr
		want bool
	}{
		{"for the address", good, ilbAddr, true},
		{"for another address", good, netip.MustParseAddr("10.128.0.29"), false},
		{"issued for another address", tlsSecret(t, netip.MustParseAddr("10.128.0.40"), year), ilbAddr, false},
		{"expiring in 10 days", tlsSecret(t, ilbAddr, 10*24*time.Hour), ilbAddr, false},
		{"expiring in 31 days", tlsSecret(t, ilbAddr, 31*24*time.Hour), ilbAddr, true},
		{"missing ca.crt", map[string][]byte{corev1.TLSCertKey: good[corev1.TLSCertKey]}, ilbAddr, false},
		{"ca.crt of another CA", map[string][]byte{corev1.TLSCertKey: good[corev1.TLSCertKey], "ca.crt": otherCA["ca.crt"]}, ilbAddr, false},
		{"missing tls.crt", map[string][]byte{"ca.crt": good["ca.crt"]}, ilbAddr, false},
		{"tls.crt not PEM", map[string][]byte{corev1.TLSCertKey: []byte("garbage"), "ca.crt": good["ca.crt"]}, ilbAddr, false},
		{"nil", nil, ilbAddr, false},
	}
	for _, tt := range tests {
		if got := certFits(tt.data, tt.addr); got != tt.want {
			t.Errorf("certFits(%s, %s) = %v; want %v", tt.name, tt.addr, got, tt.want)
		}
	}
}

func TestSelfSigned(t *testing.T) {
	t.Parallel()
	before := time.Now()
	certPEM, keyPEM, err := selfSigned(ilbAddr)
	if err != nil {
		t.Fatalf("selfSigned: %v", err)
	}
	cb, rest := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("certificate PEM: got block %v and %d trailing bytes; want one CERTIFICATE", cb, len(rest))
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "10.128.0.28" {
		t.Errorf("CN = %q; want 10.128.0.28", cert.Subject.CommonName)
	}
	// The article's openssl command sets only the CN: no SANs, which is why modern clients
	// refuse the certificate for the address.
	if len(cert.DNSNames) != 0 || len(cert.IPAddresses) != 0 || len(cert.EmailAddresses) != 0 || len(cert.URIs) != 0 {
		t.Errorf("SANs = %v %v %v %v; want none", cert.DNSNames, cert.IPAddresses, cert.EmailAddresses, cert.URIs)
	}
	if err := cert.VerifyHostname("10.128.0.28"); err == nil {
		t.Error("VerifyHostname(10.128.0.28) = nil; want an error for a CN-only certificate")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Errorf("public key %T; want RSA 2048", cert.PublicKey)
	}
	if got, want := cert.NotAfter.Sub(cert.NotBefore), 365*24*time.Hour; got < want-time.Hour || got > want+time.Hour {
		t.Errorf("validity = %v; want 365 days", got)
	}
	if cert.NotBefore.Before(before.Add(-time.Second).Truncate(time.Second)) || cert.NotBefore.After(time.Now()) {
		t.Errorf("notBefore = %v; want about now (%v)", cert.NotBefore, before)
	}
	// A self-signed leaf, not a CA: CheckSignatureFrom would refuse it as a parent.
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil || cert.Issuer.String() != cert.Subject.String() {
		t.Errorf("certificate is not self-signed (issuer %q): %v", cert.Issuer, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatalf("key PEM: got block %v; want PRIVATE KEY", kb)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if rk, ok := key.(*rsa.PrivateKey); !ok || !rk.PublicKey.Equal(cert.PublicKey) {
		t.Error("private key does not match the certificate")
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	if got, want := digest(nil), "e3b0c44298fc1c14"; got != want {
		t.Errorf("digest(nil) = %q; want %q (sha256 of nothing, 8 bytes)", got, want)
	}
	a, b := digest([]byte("server {}")), digest([]byte("server {}"))
	if a != b {
		t.Errorf("digest of equal input: got %q and %q; want equal", a, b)
	}
	if c := digest([]byte("server { }")); c == a {
		t.Errorf("digest of different input: got %q for both; want different", a)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a) {
		t.Errorf("digest = %q; want 16 lower-case hex digits", a)
	}
}

func TestTemplatesRender(t *testing.T) {
	t.Parallel()
	data := map[string]string{"Endpoint": "192.168.32.34", "Address": "10.128.0.28", "CA": "Q0EK", "Server": "https://10.128.0.28", "Token": ""}
	tests := []struct {
		name    string
		want    []string
		wantNot []string
	}{
		{"nginx/hardened.conf.tmpl",
			[]string{"proxy_ssl_verify              on", "server 192.168.32.34:443", "server_name 10.128.0.28",
				"ssl_protocols       TLSv1.2 TLSv1.3", "/etc/nginx/cert/tls.crt", "/etc/nginx/cluster-ca/ca.crt"},
			[]string{"ssl on;", "TLSv1 ", "TLSv1.1"}},
		{"nginx/seed.conf.tmpl",
			[]string{"ssl on;", "TLSv1 TLSv1.1", "proxy_pass https://192.168.32.34;", "server_name 10.128.0.28"},
			[]string{"proxy_ssl_verify"}},
		{"seed/kubeconfig.tmpl",
			[]string{"certificate-authority-data: : Q0EK", "server: https://10.128.0.28", "token: : \n"},
			nil},
		{"proxy/l7.yaml.tmpl",
			[]string{"mode: l7", `upstream: "192.168.32.34:443"`, "certFile: /etc/reachgate/tls/tls.crt",
				"upstreamCAFile: /etc/reachgate/cluster-ca/ca.crt"},
			nil},
		{"proxy/l4.yaml.tmpl", []string{"mode: l4", `upstream: "192.168.32.34:443"`}, []string{"certFile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := fixtures.Render(tt.name, data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			s := string(out)
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("rendered %s lacks %q:\n%s", tt.name, w, s)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(s, w) {
					t.Errorf("rendered %s contains %q; want it absent", tt.name, w)
				}
			}
			if strings.Contains(s, "{{") || strings.Contains(s, "<no value>") {
				t.Errorf("rendered %s has an unexpanded field:\n%s", tt.name, s)
			}
		})
	}
}

// The mounts the Deployment makes are the paths the rendered configs read.
func TestConfigsReadWhatTheDeploymentMounts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		proxy Proxy
		tmpl  string
		files []string
	}{
		{Nginx, "nginx/hardened.conf.tmpl", []string{"tls.crt", "tls.key"}},
		{GoL7, "proxy/l7.yaml.tmpl", []string{"tls.crt", "tls.key"}},
	} {
		w := workloadFor(tt.proxy)
		out, err := fixtures.Render(tt.tmpl, map[string]string{"Endpoint": "192.168.32.34", "Address": "10.128.0.28"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range tt.files {
			if p := w.certDir + "/" + f; !strings.Contains(string(out), p) {
				t.Errorf("%s does not read %s, where the %s Deployment mounts the TLS secret", tt.tmpl, p, tt.proxy)
			}
		}
		if p := w.caDir + "/ca.crt"; !strings.Contains(string(out), p) {
			t.Errorf("%s does not read %s, where the %s Deployment mounts the cluster CA", tt.tmpl, p, tt.proxy)
		}
	}
}
