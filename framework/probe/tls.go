package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"
)

// TLSRequest says which endpoint to inspect and what its certificate must satisfy.
type TLSRequest struct {
	Addr string // host:port
	// CAPEM is the bundle the chain must verify against.
	CAPEM []byte
	// ServerName is the name the certificate must cover (kubeconfig tls-server-name);
	// default: the host of Addr (an IP literal matches IP SANs only).
	ServerName string
	// MinDaysToExpiry fails the expiry check below it (default 30).
	MinDaysToExpiry float64
	Timeout         time.Duration
	// Now is the time expiry is judged at (default time.Now).
	Now func() time.Time
}

// Check names of InspectTLS and TLSVersions.
const (
	CheckChain    = "tls-chain"
	CheckSAN      = "tls-san"
	CheckExpiry   = "tls-expiry"
	CheckVersions = "tls-versions"
)

// TLSReport is what one handshake showed. Checks holds chain, SAN and expiry verdicts.
type TLSReport struct {
	Addr         string    `json:"addr"`
	ServerName   string    `json:"serverName"`
	Version      string    `json:"version"`
	Cipher       string    `json:"cipher"`
	LeafSHA256   string    `json:"leafSHA256"`
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	DNSNames     []string  `json:"dnsNames,omitempty"`
	IPAddresses  []string  `json:"ipAddresses,omitempty"`
	NotAfter     time.Time `json:"notAfter"`
	DaysToExpiry float64   `json:"daysToExpiry"`
	Handshake    Ms        `json:"handshakeMs"`
	Checks       []Check   `json:"checks"`
}

// InspectTLS handshakes with r.Addr from d and judges the certificate it is shown. The
// handshake accepts any certificate so that a bad one can still be described; the chain
// and the name are then verified separately, each with its own verdict. No request is sent.
func InspectTLS(ctx context.Context, d Dialer, r TLSRequest) (TLSReport, error) {
	host, _, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return TLSReport{}, fmt.Errorf("address %q: %w (use host:port)", r.Addr, err)
	}
	if r.ServerName == "" {
		r.ServerName = host
	}
	if r.MinDaysToExpiry == 0 {
		r.MinDaysToExpiry = 30
	}
	if r.Timeout == 0 {
		r.Timeout = 10 * time.Second
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(r.CAPEM) {
		return TLSReport{}, errors.New("CA bundle holds no PEM certificate")
	}
	rep := TLSReport{Addr: r.Addr, ServerName: r.ServerName}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	start := time.Now()
	state, err := handshake(ctx, d, r.Addr, &tls.Config{
		// Verified below, check by check, so that a failing certificate is still reported.
		InsecureSkipVerify: true, //nolint:gosec
		ServerName:         sniName(r.ServerName),
	})
	rep.Handshake = ToMs(time.Since(start))
	if err != nil {
		return rep, fmt.Errorf("TLS handshake with %s: %w", r.Addr, err)
	}
	rep.Version, rep.Cipher = tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite)
	if len(state.PeerCertificates) == 0 {
		return rep, fmt.Errorf("TLS handshake with %s: the server sent no certificate", r.Addr)
	}
	leaf := state.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	rep.LeafSHA256 = hex.EncodeToString(sum[:])
	rep.Subject, rep.Issuer = leaf.Subject.String(), leaf.Issuer.String()
	rep.DNSNames = leaf.DNSNames
	for _, ip := range leaf.IPAddresses {
		rep.IPAddresses = append(rep.IPAddresses, ip.String())
	}
	rep.NotAfter = leaf.NotAfter.UTC()
	at := now()
	rep.DaysToExpiry = math.Floor(leaf.NotAfter.Sub(at).Hours()/24*10) / 10
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	// The chain is judged on signatures and usage; expiry has its own check, so verify as
	// of a moment inside the certificate's validity.
	verifyAt := at
	if at.After(leaf.NotAfter) {
		verifyAt = leaf.NotAfter.Add(-time.Second)
	} else if at.Before(leaf.NotBefore) {
		verifyAt = leaf.NotBefore.Add(time.Second)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: verifyAt,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		rep.Checks = append(rep.Checks, Check{Name: CheckChain, Reason: fmt.Sprintf("certificate %q (issuer %q) does not verify against the CA bundle: %v", rep.Subject, rep.Issuer, err)})
	} else {
		rep.Checks = append(rep.Checks, Check{Name: CheckChain, Pass: true, Reason: fmt.Sprintf("chain from %q verifies against the CA bundle", rep.Issuer)})
	}
	if err := leaf.VerifyHostname(r.ServerName); err != nil {
		rep.Checks = append(rep.Checks, Check{Name: CheckSAN, Reason: fmt.Sprintf("certificate does not cover %s: DNS SANs %v, IP SANs %v (%v)", r.ServerName, rep.DNSNames, rep.IPAddresses, err)})
	} else {
		rep.Checks = append(rep.Checks, Check{Name: CheckSAN, Pass: true, Reason: fmt.Sprintf("certificate covers %s", r.ServerName)})
	}
	switch {
	case at.After(leaf.NotAfter):
		rep.Checks = append(rep.Checks, Check{Name: CheckExpiry, Reason: fmt.Sprintf("certificate expired on %s (%.1f days ago)", rep.NotAfter.Format(time.DateOnly), -rep.DaysToExpiry)})
	case at.Before(leaf.NotBefore):
		rep.Checks = append(rep.Checks, Check{Name: CheckExpiry, Reason: fmt.Sprintf("certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))})
	case rep.DaysToExpiry < r.MinDaysToExpiry:
		rep.Checks = append(rep.Checks, Check{Name: CheckExpiry, Reason: fmt.Sprintf("certificate expires in %.1f days (on %s); budget >= %g days", rep.DaysToExpiry, rep.NotAfter.Format(time.DateOnly), r.MinDaysToExpiry)})
	default:
		rep.Checks = append(rep.Checks, Check{Name: CheckExpiry, Pass: true, Reason: fmt.Sprintf("certificate expires in %.1f days (on %s); budget >= %g days", rep.DaysToExpiry, rep.NotAfter.Format(time.DateOnly), r.MinDaysToExpiry)})
	}
	return rep, nil
}

// sniName is the SNI to send: none for an IP literal (RFC 6066 forbids it).
func sniName(name string) string {
	if net.ParseIP(name) != nil {
		return ""
	}
	return name
}

func handshake(ctx context.Context, d Dialer, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return conn.ConnectionState(), nil
}

// TLSVersions lists the protocol versions probed, oldest first.
var TLSVersions = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// VersionSupport is whether a server completed a handshake pinned to one version.
type VersionSupport struct {
	Version  string `json:"version"`
	Accepted bool   `json:"accepted"`
	Cipher   string `json:"cipher,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ProbeVersions handshakes once per protocol version (Go's client still speaks TLS 1.0 and
// 1.1 when the config allows them), so the result says what the server accepts, not what a
// default client would negotiate. serverName is sent as SNI unless it is an IP.
func ProbeVersions(ctx context.Context, d Dialer, addr, serverName string, timeout time.Duration) ([]VersionSupport, error) {
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	var out []VersionSupport
	for _, v := range TLSVersions {
		hctx, cancel := context.WithTimeout(ctx, timeout)
		state, err := handshake(hctx, d, addr, &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // only the protocol version is probed
			ServerName:         sniName(serverName),
			MinVersion:         v, MaxVersion: v,
			CipherSuites: legacySuites(v),
		})
		cancel()
		vs := VersionSupport{Version: tls.VersionName(v)}
		switch {
		case err == nil:
			vs.Accepted, vs.Cipher = true, tls.CipherSuiteName(state.CipherSuite)
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			return out, ctx.Err()
		default:
			var ne *net.OpError
			if errors.As(err, &ne) && ne.Op == "dial" {
				return out, fmt.Errorf("dial %s: %w", addr, err)
			}
			vs.Error = err.Error()
		}
		out = append(out, vs)
	}
	return out, nil
}

// legacySuites offers, for TLS 1.0/1.1, every suite Go implements (including the ones it
// leaves out by default), so a refusal means the server refuses the version.
func legacySuites(v uint16) []uint16 {
	if v >= tls.VersionTLS12 {
		return nil
	}
	var ids []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		for _, sv := range s.SupportedVersions {
			if sv == v {
				ids = append(ids, s.ID)
				break
			}
		}
	}
	return ids
}

// VersionsCheck judges the accepted versions against the oldest allowed one (e.g.
// tls.VersionTLS12): it fails when an older one is accepted or none at all is.
func VersionsCheck(vs []VersionSupport, minVersion uint16) Check {
	var accepted, tooOld []string
	for _, v := range vs {
		if !v.Accepted {
			continue
		}
		accepted = append(accepted, v.Version)
		if id, ok := VersionID(v.Version); !ok || id < minVersion {
			tooOld = append(tooOld, v.Version)
		}
	}
	minName := tls.VersionName(minVersion)
	switch {
	case len(accepted) == 0:
		return Check{Name: CheckVersions, Reason: "the server accepted no TLS version"}
	case len(tooOld) > 0:
		return Check{Name: CheckVersions, Reason: fmt.Sprintf("accepts %s, older than %s (accepted: %s)", strings.Join(tooOld, ", "), minName, strings.Join(accepted, ", "))}
	}
	return Check{Name: CheckVersions, Pass: true, Reason: fmt.Sprintf("accepts only %s (>= %s)", strings.Join(accepted, ", "), minName)}
}

// VersionID maps "TLS 1.2" (or "1.2") to its protocol number.
func VersionID(name string) (uint16, bool) {
	for _, v := range TLSVersions {
		if n := tls.VersionName(v); n == name || strings.TrimPrefix(n, "TLS ") == name {
			return v, true
		}
	}
	return 0, false
}
