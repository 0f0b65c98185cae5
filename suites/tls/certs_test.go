package tls

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"

	"reachgate/framework/pki"
)

// authority is a CA the specs issue test certificates from.
type authority struct {
	ca  *pki.KeyPair
	PEM []byte
}

func newAuthority(cn string) (*authority, error) {
	ca, err := pki.NewCAWith(pki.CertSpec{CommonName: cn,
		NotBefore: time.Now().Add(-400 * 24 * time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	return &authority{ca: ca, PEM: ca.CertPEM}, nil
}

// issue signs a server certificate valid from notBefore to notAfter for the SANs.
func (a *authority) issue(notBefore, notAfter time.Time, ips []net.IP, dns ...string) (tls.Certificate, error) {
	kp, err := a.ca.Issue(pki.CertSpec{CommonName: "reachgate tls test", NotBefore: notBefore, NotAfter: notAfter,
		IPs: ips, DNSNames: dns, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return tls.Certificate{}, err
	}
	return kp.TLSCertificate(), nil
}
