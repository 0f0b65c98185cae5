package seed

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reachgate/framework/provider"
	"reachgate/lab"
	"reachgate/lab/controlplane"
	"reachgate/lab/netns"
)

// labAccess is the lab provider's ability to hand over the lab itself: the impostor needs
// the proxy pods' network namespaces.
type labAccess interface{ Lab() *lab.Lab }

var errNoLab = errors.New("the provider does not expose the proxy pods' network namespaces")

const (
	impostorPort  = 18443
	impostorTable = "reachgate_seed_impostor"
	impostorBody  = `{"impostor":true}`
)

// impostor takes the API server's place as the proxy pods see it: inside each pod's
// namespace, nft redirects the pod's own connections to endpoint:443 to a TLS server on the
// pod's address whose certificate names the endpoint and kubernetes.default like the API
// server's, but comes from another CA. Nothing changes outside the pods.
type impostor struct {
	stops  []func()
	tables []string
}

func newImpostor(ctx context.Context, env provider.Environment, cs kubernetes.Interface, selector, endpoint string) (*impostor, error) {
	la, ok := env.(labAccess)
	if !ok {
		return nil, errNoLab
	}
	ca, err := controlplane.NewCA("impostor CA", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	kp, err := ca.Issue(controlplane.CertSpec{CommonName: "kubernetes", IPs: []net.IP{net.ParseIP(endpoint)},
		DNSNames: []string{"kubernetes.default", "kubernetes"}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, err
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("no pod matches %s", selector)
	}
	imp := &impostor{}
	for _, p := range pods.Items {
		ns := netns.NamespaceName(la.Lab().State.Name, "p", p.Namespace+"-"+p.Name)
		ln, err := netns.Listen(ns, "tcp", net.JoinHostPort(p.Status.PodIP, fmt.Sprint(impostorPort)))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("listen in pod %s: %w", p.Name, err), imp.remove(ctx))
		}
		imp.stops = append(imp.stops, serveTLS(ln, cert))
		rules := fmt.Sprintf("table ip %s {\n chain out {\n  type nat hook output priority -100; policy accept;\n  ip daddr %s tcp dport 443 dnat to %s:%d\n }\n}\n",
			impostorTable, endpoint, p.Status.PodIP, impostorPort)
		if out, err := nft(ctx, ns, rules, "-f", "-"); err != nil {
			return nil, errors.Join(fmt.Errorf("nft in pod %s: %w: %s", p.Name, err, out), imp.remove(ctx))
		}
		imp.tables = append(imp.tables, ns)
	}
	return imp, nil
}

func nft(ctx context.Context, ns, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// remove deletes the redirects and stops the servers.
func (imp *impostor) remove(ctx context.Context) error {
	var errs []error
	for _, ns := range imp.tables {
		if out, err := nft(ctx, ns, "", "delete", "table", "ip", impostorTable); err != nil && !strings.Contains(out, "No such file") {
			errs = append(errs, fmt.Errorf("delete nft table in %s: %w: %s", ns, err, out))
		}
	}
	imp.tables = nil
	for _, stop := range imp.stops {
		stop()
	}
	imp.stops = nil
	return errors.Join(errs...)
}

// serveTLS answers every request with the impostor's body until stop is called.
func serveTLS(ln net.Listener, cert tls.Certificate) (stop func()) {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, impostorBody)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(ln, "", "")
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}

// restartProxies kills the proxies' processes, so none keeps an upstream connection or a
// certificate from before, and waits until check passes four times in a row (both
// replicas serving again).
func restartProxies(ctx context.Context, env provider.Environment, cs kubernetes.Interface, selector string, check func(context.Context) error) error {
	killer, ok := env.(provider.PodKiller)
	if !ok {
		return errors.New("the provider cannot kill a pod's containers")
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		if err := killer.KillPod(ctx, p.Namespace, p.Name); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for ok := 0; ok < 4; {
		if time.Now().After(deadline) {
			return fmt.Errorf("proxies did not serve again within 60 s of the restart: %v", last)
		}
		if last = check(ctx); last == nil {
			ok++
		} else {
			ok = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
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
