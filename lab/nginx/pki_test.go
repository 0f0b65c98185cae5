package nginx

import (
	"crypto/x509"
	"net"
	"testing"
	"time"

	"reachgate/framework/pki"
)

// testPKI is a CA and a server certificate for one IP, as the article's TLS Secret holds.
type testPKI struct {
	Pool    *x509.CertPool
	CertPEM []byte // tls.crt
	KeyPEM  []byte // tls.key
}

func newTestPKI(t *testing.T, ip string) testPKI {
	t.Helper()
	ca, err := pki.NewCA("rg-tnginx test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.CertSpec{CommonName: ip, IPs: []net.IP{net.ParseIP(ip)},
		Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return testPKI{Pool: pool, CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM}
}

// mounts returns the article's Deployment mounts: the server block and the TLS Secret.
func (p testPKI) mounts(serverBlock string) []Mount {
	return []Mount{
		{Path: "/etc/nginx/conf.d/nginx.conf", Data: []byte(serverBlock)},
		{Path: "/etc/nginx/cert/tls.crt", Data: p.CertPEM},
		{Path: "/etc/nginx/cert/tls.key", Data: p.KeyPEM},
	}
}
