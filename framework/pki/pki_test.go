package pki

import (
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestIssuedCertificatesChainAndCoverTheirNames(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(CertSpec{
		CommonName: "kube-apiserver", DNSNames: []string{"kubernetes.default"},
		IPs: []net.IP{net.ParseIP("192.168.32.34")}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, name := range []string{"192.168.32.34", "kubernetes.default"} {
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.128.0.28"}); err == nil {
		t.Errorf("certificate must not cover an address it was not issued for")
	}
	other, _ := NewCA("other-ca", time.Hour)
	otherPool := x509.NewCertPool()
	otherPool.AddCert(other.Cert)
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: otherPool}); err == nil {
		t.Errorf("certificate must not chain to another CA")
	}
}

func TestKeyPairRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := NewCA("rt", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(dir, "ca"); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKeyPair(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.Equal(ca.Cert) || string(got.KeyPEM) != string(ca.KeyPEM) {
		t.Fatalf("loaded pair differs from the written one")
	}
	if _, err := LoadKeyPair(dir, "missing"); err == nil {
		t.Fatalf("loading a missing pair must fail")
	}
}
