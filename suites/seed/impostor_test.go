package seed

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"reachgate/framework/pki"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"reachgate/framework/provider"
)

// impostorBody is what the impostor upstream answers; seeing it through a proxy proves the
// proxy accepted a certificate from another CA.
const impostorBody = `{"impostor":true}`

// otherCA issues a certificate with the API server's names (the endpoint and
// kubernetes.default) from a CA the proxies were never told about.
func otherCA(endpoint string) (tls.Certificate, error) {
	ca, err := pki.NewCA("impostor CA", 24*time.Hour)
	if err != nil {
		return tls.Certificate{}, err
	}
	kp, err := ca.Issue(pki.CertSpec{CommonName: "kubernetes", IPs: []net.IP{net.ParseIP(endpoint)},
		DNSNames: []string{"kubernetes.default", "kubernetes"}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: 24 * time.Hour})
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
}

// servedLeaf returns the certificate the server at addr presents from the host (no
// verification: only what is served is looked at).
func servedLeaf(ctx context.Context, h provider.Host, addr string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	raw, err := h.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the served certificate is inspected, not trusted
	defer c.Close()
	if err := c.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

// selfSignedWithSAN is the article's `openssl req -x509 -nodes -days 365 -subj
// /CN=${static_ip} -newkey rsa:2048` with the fix RG-TLS-004 names added
// (`-addext subjectAltName=IP:${static_ip}`): still self-signed.
func selfSignedWithSAN(addr netip.Addr) (certPEM, keyPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: addr.String()},
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(0, 0, 365), IsCA: true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.IP(addr.AsSlice())}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), nil
}

// get sends GET url from the host over a fresh connection with the client's TLS settings.
func get(ctx context.Context, h provider.Host, url string, client *tls.Config) (int, []byte) {
	GinkgoHelper()
	tr := &http.Transport{DialContext: h.DialContext, DisableKeepAlives: true, TLSClientConfig: client}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, body
}

// verifyWith is a client that verifies the server's chain and name against caPEM.
func verifyWith(caPEM []byte) *tls.Config {
	pool := x509.NewCertPool()
	Expect(pool.AppendCertsFromPEM(caPEM)).To(BeTrue())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// chainOnly is a client that verifies the server's chain against caPEM but not its name:
// the seed certificate has a CN only, which Go never matches.
func chainOnly(caPEM []byte) *tls.Config {
	pool := x509.NewCertPool()
	Expect(pool.AppendCertsFromPEM(caPEM)).To(BeTrue())
	return &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified below; the name cannot be (CN only)
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool})
			return err
		}}
}
