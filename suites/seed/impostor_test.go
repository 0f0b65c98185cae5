package seed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
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
	kp, err := pki.SelfSigned(pki.CertSpec{CommonName: addr.String(), IPs: []net.IP{net.IP(addr.AsSlice())},
		Validity: 365 * 24 * time.Hour, RSABits: 2048})
	if err != nil {
		return nil, nil, err
	}
	return kp.CertPEM, kp.KeyPEM, nil
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
