package pki

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
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

func TestSelfSigned(t *testing.T) {
	t.Parallel()
	nb := time.Now().Truncate(time.Second)
	kp, err := SelfSigned(CertSpec{CommonName: "10.128.0.28", NotBefore: nb, NotAfter: nb.AddDate(0, 0, 365), RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	c := kp.Cert
	if c.IsCA || c.Subject.CommonName != "10.128.0.28" || c.Issuer.CommonName != "10.128.0.28" {
		t.Errorf("IsCA %v, subject %q, issuer %q; want a leaf issued by itself", c.IsCA, c.Subject, c.Issuer)
	}
	// CheckSignatureFrom refuses a parent that is not a CA: check the signature itself.
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if !c.NotBefore.Equal(nb) || !c.NotAfter.Equal(nb.AddDate(0, 0, 365)) {
		t.Errorf("validity %v to %v; want %v to %v", c.NotBefore, c.NotAfter, nb, nb.AddDate(0, 0, 365))
	}
	if pub, ok := c.PublicKey.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
		t.Errorf("public key %T; want RSA 2048", c.PublicKey)
	}
	if c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Errorf("key usage %v lacks key encipherment for an RSA key", c.KeyUsage)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("verify against itself: %v", err)
	}
	if _, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM); err != nil {
		t.Errorf("PEM pair does not load: %v", err)
	}
}

func TestValidityWindow(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("window", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nb, na := time.Now().Add(-48*time.Hour).Truncate(time.Second), time.Now().Add(-24*time.Hour).Truncate(time.Second)
	expired, err := ca.Issue(CertSpec{CommonName: "expired", NotBefore: nb, NotAfter: na, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !expired.Cert.NotBefore.Equal(nb) || !expired.Cert.NotAfter.Equal(na) {
		t.Errorf("validity %v to %v; want %v to %v", expired.Cert.NotBefore, expired.Cert.NotAfter, nb, na)
	}
	if _, ok := expired.Cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("public key %T; want ECDSA by default", expired.Cert.PublicKey)
	}
	tc := expired.TLSCertificate(ca)
	if len(tc.Certificate) != 2 || tc.Leaf != expired.Cert || tc.PrivateKey != expired.Key {
		t.Errorf("TLSCertificate: %d certificates, leaf %v; want leaf and CA", len(tc.Certificate), tc.Leaf != nil)
	}
	old, err := NewCAWith(CertSpec{CommonName: "old", NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	if !old.Cert.IsCA || !old.Cert.NotBefore.Equal(nb) || !old.Cert.NotAfter.Equal(na) {
		t.Errorf("NewCAWith: IsCA %v, validity %v to %v; want a CA from %v to %v", old.Cert.IsCA, old.Cert.NotBefore, old.Cert.NotAfter, nb, na)
	}
	// Only NotBefore: the window is Validity from it.
	later, err := ca.Issue(CertSpec{CommonName: "later", NotBefore: nb, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := later.Cert.NotAfter.Sub(later.Cert.NotBefore); got != time.Hour {
		t.Errorf("validity %v; want 1h from NotBefore", got)
	}
}
