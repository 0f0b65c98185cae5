// Package pki issues the certificates reachgate needs: the cluster CA and its leaves, the
// proxies' serving certificates, the article's self-signed certificate, and test authorities.
// It is the one place that calls x509.CreateCertificate.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// KeyPair is a certificate with its key, both PEM-encoded.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// CertSpec describes a certificate to issue.
type CertSpec struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Usage        []x509.ExtKeyUsage
	Validity     time.Duration
	// NotBefore and NotAfter, when set, override the default window (from a minute ago,
	// for Validity): tests issue expired and not-yet-valid certificates with them.
	NotBefore time.Time
	NotAfter  time.Time
	// RSABits, when set, gives the certificate an RSA key of that size instead of ECDSA P-256.
	RSABits int
}

// NewCA creates a self-signed CA, like the cluster CA GKE creates per cluster.
func NewCA(cn string, validity time.Duration) (*KeyPair, error) {
	return issue(CertSpec{CommonName: cn, Validity: validity}, nil, true)
}

// NewCAWith creates a self-signed CA from a full spec (an explicit validity window, say).
func NewCAWith(spec CertSpec) (*KeyPair, error) {
	return issue(spec, nil, true)
}

// Issue signs a leaf certificate with the CA.
func (ca *KeyPair) Issue(spec CertSpec) (*KeyPair, error) {
	return issue(spec, ca, false)
}

// SelfSigned creates a self-signed leaf certificate (not a CA), like
// `openssl req -x509 -subj /CN=...` for a server.
func SelfSigned(spec CertSpec) (*KeyPair, error) {
	return issue(spec, nil, false)
}

func newKey(spec CertSpec) (crypto.Signer, error) {
	if spec.RSABits > 0 {
		return rsa.GenerateKey(rand.Reader, spec.RSABits)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// issue signs spec with ca; with no ca the certificate is self-signed, a CA when isCA.
func issue(spec CertSpec, ca *KeyPair, isCA bool) (*KeyPair, error) {
	key, err := newKey(spec)
	if err != nil {
		return nil, fmt.Errorf("generate key for %s: %w", spec.CommonName, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	notBefore := time.Now().Add(-time.Minute)
	if !spec.NotBefore.IsZero() {
		notBefore = spec.NotBefore
	}
	notAfter := notBefore.Add(spec.Validity)
	if !spec.NotAfter.IsZero() {
		notAfter = spec.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		ExtKeyUsage:  spec.Usage,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment // TLS RSA key exchange
	}
	parent, signer := tmpl, key
	switch {
	case isCA:
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case ca != nil:
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %s: %w", spec.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// TLSCertificate is the pair for a tls.Config, its chain followed by the given issuers'
// certificates.
func (kp *KeyPair) TLSCertificate(issuers ...*KeyPair) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}
	for _, i := range issuers {
		c.Certificate = append(c.Certificate, i.Cert.Raw)
	}
	return c
}

// Write stores the pair as <dir>/<name>.crt and <dir>/<name>.key (key mode 0600).
func (kp *KeyPair) Write(dir, name string) error {
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), kp.CertPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".key"), kp.KeyPEM, 0o600)
}

// LoadKeyPair reads a pair written by Write.
func LoadKeyPair(dir, name string) (*KeyPair, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("read key pair %s in %s: not PEM", name, dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s is not a signer", name)
	}
	return &KeyPair{Cert: cert, Key: signer, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}
