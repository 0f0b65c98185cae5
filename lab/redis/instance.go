// Package redis runs the lab's Memorystore for Redis instances: one system redis-server per
// managed-service host (service kind redis), in that host's network namespace, as a process
// recorded in the lab's state. Each instance has what Memorystore hands out: a server CA
// (serverCaCerts) and a certificate for the instance's address when in-transit encryption is
// on (TLS on 6378, clients not asked for a certificate: SERVER_AUTHENTICATION), else plain
// text on 6379; and a random AUTH string when AUTH is on.
//
// An instance's files live in hosts/<host>/redis/ of the lab's state: redis.conf and auth
// (mode 0600: they hold the AUTH string, which nothing else shows — not the logs, the process
// arguments or `lab status`), ca.crt/ca.key and server.crt/server.key (keys 0600).
package redis

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reachgate/lab/internal/specfile"
	"strings"
	"time"

	"reachgate/framework/pki"
	"reachgate/framework/topology"
)

// File names inside an instance's directory.
const (
	ConfFile = "redis.conf"
	AuthFile = "auth"
	CAName   = "ca"     // ca.crt, ca.key: the instance's server CA
	CertName = "server" // server.crt, server.key: the certificate redis-server presents
)

// processPrefix starts the name of every redis-server process in the lab's state.
const processPrefix = "redis-"

// ProcessName is the name of a host's redis-server in the lab's state (and of its log).
func ProcessName(host string) string { return processPrefix + host }

// IsProcess reports whether a process of the lab's state is a redis-server instance.
func IsProcess(name string) bool { return strings.HasPrefix(name, processPrefix) }

// Instance is one Memorystore for Redis instance of the lab.
type Instance struct {
	Host string     // the managed-service host
	IP   netip.Addr // the host's address, where the instance listens
	TLS  bool       // in-transit encryption: TLS on 6378, else plain text on 6379
	Auth bool       // AUTH required
	Dir  string     // hosts/<host>/redis in the lab's state
	Log  string     // the log file of its process (logs/redis-<host>.log)
}

// FromMachine returns the instance of a managed-service host whose service is redis, with its
// files in dir and its log in logFile.
func FromMachine(m *topology.Machine, dir, logFile string) (Instance, error) {
	switch {
	case m.Service == nil:
		return Instance{}, fmt.Errorf("host %s has role %s but no service (add service: {kind: %s} to it)", m.Name, m.Role, topology.ServiceRedis)
	case m.Service.Kind != topology.ServiceRedis:
		return Instance{}, fmt.Errorf("host %s: the lab runs no managed service of kind %q (use kind: %s)", m.Name, m.Service.Kind, topology.ServiceRedis)
	}
	return Instance{Host: m.Name, IP: m.IP, TLS: m.Service.TLS, Auth: m.Service.Auth, Dir: dir, Log: logFile}, nil
}

// Port is where the instance listens: 6378 with TLS, 6379 without (Memorystore's ports).
func (i Instance) Port() int {
	if i.TLS {
		return topology.RedisTLSPort
	}
	return topology.RedisPort
}

// Addr is the instance's address and port.
func (i Instance) Addr() netip.AddrPort { return netip.AddrPortFrom(i.IP, uint16(i.Port())) }

// Path returns a file of the instance's directory.
func (i Instance) Path(name string) string { return filepath.Join(i.Dir, name) }

// Args are redis-server's arguments: the configuration file only, so the AUTH string, which
// is in it, is never in the process's arguments.
func (i Instance) Args() []string { return []string{i.Path(ConfFile)} }

// Config is what the lab writes in an instance's redis.conf.
func (i Instance) Config(auth string) Config {
	c := Config{Bind: i.IP, TLS: i.TLS, Auth: auth, Dir: i.Dir, LogFile: i.Log}
	if i.TLS {
		c.CertFile, c.KeyFile, c.CAFile = i.Path(CertName+".crt"), i.Path(CertName+".key"), i.Path(CAName+".crt")
	}
	return c
}

// Config is one redis.conf.
type Config struct {
	Bind netip.Addr
	TLS  bool
	// Auth is the AUTH string (requirepass); empty when AUTH is off.
	Auth    string
	Dir     string // the working directory (no data is saved there: no RDB, no AOF)
	LogFile string
	// CertFile, KeyFile and CAFile are the server's certificate, its key and the CA (TLS only).
	CertFile, KeyFile, CAFile string
}

// Render returns the redis.conf text.
func (c Config) Render() string {
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("# Written by reachgate's lab for a Memorystore for Redis instance; rewritten at every start.")
	line("bind %s", c.Bind)
	line("protected-mode no")
	if c.TLS {
		// In-transit encryption as Memorystore's SERVER_AUTHENTICATION: TLS only, and clients
		// verify the server against the instance's CA without presenting a certificate.
		line("port 0")
		line("tls-port %d", topology.RedisTLSPort)
		line("tls-cert-file %s", quote(c.CertFile))
		line("tls-key-file %s", quote(c.KeyFile))
		line("tls-ca-cert-file %s", quote(c.CAFile))
		line("tls-auth-clients no")
		line(`tls-protocols "TLSv1.2 TLSv1.3"`)
	} else {
		line("port %d", topology.RedisPort)
	}
	if c.Auth != "" {
		line("requirepass %s", quote(c.Auth))
	}
	// A cache that keeps nothing on disk; the process stays in the foreground for the lab,
	// which records and stops it, and writes no pidfile.
	line(`save ""`)
	line("appendonly no")
	line("dir %s", quote(c.Dir))
	line("daemonize no")
	line("logfile %s", quote(c.LogFile))
	return b.String()
}

// quote writes s as one redis.conf argument (a double-quoted string).
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Prepare writes an instance's files: the CA and the server certificate (TLS), the AUTH string
// (AUTH) and redis.conf. What an earlier start wrote is kept — the CA, the certificate and the
// AUTH string stay the same across restarts, as a Memorystore instance's do — and redis.conf is
// rewritten.
func Prepare(i Instance) error {
	if err := os.MkdirAll(i.Dir, 0o700); err != nil {
		return fmt.Errorf("redis instance %s: %w", i.Host, err)
	}
	if err := os.Chmod(i.Dir, 0o700); err != nil {
		return err
	}
	if i.TLS {
		if err := ensureCerts(i); err != nil {
			return fmt.Errorf("redis instance %s: certificates: %w", i.Host, err)
		}
	}
	auth := ""
	if i.Auth {
		var err error
		if auth, err = ensureAuth(i.Path(AuthFile)); err != nil {
			return fmt.Errorf("redis instance %s: AUTH string: %w", i.Host, err)
		}
	}
	if err := writeSecret(i.Path(ConfFile), []byte(i.Config(auth).Render())); err != nil {
		return fmt.Errorf("redis instance %s: write %s: %w", i.Host, ConfFile, err)
	}
	return nil
}

// Validity of an instance's CA and server certificate.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 365 * 24 * time.Hour
)

// ensureCerts keeps the instance's CA and server certificate, or makes them.
func ensureCerts(i Instance) error {
	ca, err := pki.LoadKeyPair(i.Dir, CAName)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if ca, err = pki.NewCA("reachgate lab redis "+i.Host+" server CA", caValidity); err != nil {
			return err
		}
		if err := ca.Write(i.Dir, CAName); err != nil {
			return err
		}
	}
	if cur, err := pki.LoadKeyPair(i.Dir, CertName); err == nil && coversIP(cur.Cert, ca.Cert, i.IP) {
		return nil
	}
	server, err := ca.Issue(pki.CertSpec{
		CommonName: i.IP.String(),
		IPs:        []net.IP{net.IP(i.IP.AsSlice())},
		Usage:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Validity:   certValidity,
	})
	if err != nil {
		return err
	}
	return server.Write(i.Dir, CertName)
}

// coversIP reports whether cert is signed by ca, valid for a day more, and names ip.
func coversIP(cert, ca *x509.Certificate, ip netip.Addr) bool {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: ip.String(),
		CurrentTime: time.Now().Add(24 * time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err == nil
}

// ensureAuth returns the AUTH string in path, or makes one: 32 random bytes, base64url.
func ensureAuth(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(data)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(buf)
	return s, writeSecret(path, []byte(s+"\n"))
}

// writeSecret writes a file of mode 0600 atomically.
func writeSecret(path string, data []byte) error { return specfile.WriteAtomicMode(path, data, 0o600) }

// Credentials are what a client of an instance needs besides its address: the CA (TLS) and the
// AUTH string (AUTH), read from the instance's files.
type Credentials struct {
	CAPEM []byte
	Auth  string
}

// Read returns an instance's credentials from its files (written by Prepare).
func Read(i Instance) (Credentials, error) {
	var c Credentials
	if i.TLS {
		pem, err := os.ReadFile(i.Path(CAName + ".crt"))
		if err != nil {
			return c, fmt.Errorf("redis instance %s: read its CA: %w (is the lab up? run 'reachgate lab up')", i.Host, err)
		}
		c.CAPEM = pem
	}
	if i.Auth {
		data, err := os.ReadFile(i.Path(AuthFile))
		if err != nil {
			return c, fmt.Errorf("redis instance %s: read its AUTH string: %w (is the lab up? run 'reachgate lab up')", i.Host, err)
		}
		c.Auth = strings.TrimSpace(string(data))
		if c.Auth == "" {
			return c, fmt.Errorf("redis instance %s: %s is empty (run 'reachgate lab down' and 'reachgate lab up' to make a new one)", i.Host, i.Path(AuthFile))
		}
	}
	return c, nil
}
