package lab

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"reachgate/framework/netmodel"
	"reachgate/framework/pki"
	"reachgate/lab/dnsserver"
	"reachgate/lab/gfe"
	"reachgate/lab/netns"
)

// The lab's Google API front end and the third-party VPCs' resolvers, for a cluster with a
// DNS-based endpoint. Their configuration is derived from the cloud state on every
// Reconcile: the front end's from the cluster's allowExternalTraffic and its IAM bindings,
// a resolver's from its VPC's private zones.

// GoogleAPIsProcess and ResolverProcess name the daemons in the lab's state.
const (
	GoogleAPIsProcess = "google-apis"
	ResolverProcess   = "resolver"
)

// GoogleAPIsDir is where the front end's certificates and configuration live.
func (l *Lab) GoogleAPIsDir() string { return l.State.Path("google-apis") }

// GoogleAPIsCA is the root the front end's certificate chains to: it stands for the public
// roots a VM trusts, and is what a DNS-endpoint kubeconfig names as its certificate authority.
func (l *Lab) GoogleAPIsCA() ([]byte, error) {
	return os.ReadFile(filepath.Join(l.GoogleAPIsDir(), "root.crt"))
}

func (l *Lab) zonesPath(vpc string) string { return l.State.Path("resolvers", vpc+".json") }

// ResolverOf returns the resolver address ("ip:53") of host's VPC, if it has one.
func (l *Lab) ResolverOf(host string) (string, bool) {
	h := l.Current.Host(host)
	if h == nil {
		return "", false
	}
	a, ok := l.Topology.ResolverAddr(h.VPC)
	if !ok {
		return "", false
	}
	return netip.AddrPortFrom(a, 53).String(), true
}

// googleAPIsDaemon reports whether a process of the lab is the front end or a resolver.
func googleAPIsDaemon(name string) bool {
	return name == GoogleAPIsProcess || strings.HasPrefix(name, ResolverProcess+"/")
}

// startGoogleAPIs issues the front end's certificate (once: a restart keeps the root that
// kubeconfigs trust), writes its and the resolvers' configuration and starts those of them
// that do not run.
func (l *Lab) startGoogleAPIs(ctx context.Context, self string, log *slog.Logger) error {
	c := l.Current.Cluster
	if c == nil || c.DNS == nil || l.Plan.GoogleAPIs == "" {
		return nil
	}
	dir := l.GoogleAPIsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "serving.crt")); err != nil {
		if err := l.issueGoogleAPIsCert(dir); err != nil {
			return err
		}
	}
	if err := l.writeGoogleAPIsConfig(); err != nil {
		return err
	}
	if self == "" {
		return nil
	}
	running := map[string]bool{}
	for _, p := range l.State.Processes {
		running[p.Name] = p.Running()
	}
	if !running[GoogleAPIsProcess] {
		p, err := l.State.Start(netns.StartSpec{Name: GoogleAPIsProcess, Namespace: l.Plan.GoogleAPIs, Path: self,
			Args: []string{"lab", "google-apis", "--name", l.State.Name},
			Env:  []string{"REACHGATE_STATE_DIR=" + netns.StateRoot()}})
		if err != nil {
			return err
		}
		if err := waitListening(ctx, l.Plan.GoogleAPIs, "tcp", netns.GoogleAPIsListen()[0], p); err != nil {
			return err
		}
		log.Info("Google API front end up", "pid", p.PID, "endpoint", c.DNS.Name, "at", netns.GoogleAPIsListen()[0])
	}
	for _, n := range l.Topology.Networks {
		a, ok := l.Topology.ResolverAddr(n.Name)
		if !ok || running[ResolverProcess+"/"+n.Name] {
			continue
		}
		p, err := l.State.Start(netns.StartSpec{Name: ResolverProcess + "/" + n.Name, Namespace: l.Plan.Routers[n.Name], Path: self,
			Args: []string{"lab", "resolver", "--name", l.State.Name, "--vpc", n.Name},
			Env:  []string{"REACHGATE_STATE_DIR=" + netns.StateRoot()}})
		if err != nil {
			return err
		}
		if err := waitAnswering(ctx, l.Plan.Routers[n.Name], netip.AddrPortFrom(a, 53).String(), p); err != nil {
			return err
		}
		log.Info("resolver up", "pid", p.PID, "vpc", n.Name, "at", a)
	}
	return nil
}

// issueGoogleAPIsCert makes the front end's root and its serving certificate for the name.
func (l *Lab) issueGoogleAPIsCert(dir string) error {
	c := l.Current.Cluster
	root, err := pki.NewCA("reachgate lab public root (stands for Google's public CA)", 5*365*24*time.Hour)
	if err != nil {
		return err
	}
	serving, err := root.Issue(pki.CertSpec{
		CommonName: c.DNS.Name,
		DNSNames:   []string{c.DNS.Name, "*.gke.goog", "*.googleapis.com"},
		Usage:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Validity:   365 * 24 * time.Hour,
	})
	if err != nil {
		return err
	}
	if err := root.Write(dir, "root"); err != nil {
		return err
	}
	return serving.Write(dir, "serving")
}

// waitListening waits until addr accepts connections in ns, or p exits.
func waitListening(ctx context.Context, ns, network, addr string, p netns.Process) error {
	dial := netns.Dialer(ns)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			c.Close()
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("%s exited at start; see %s", p.Name, p.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections at %s in %s after 15 s: %w (log: %s)", p.Name, addr, ns, err, p.Log)
		}
	}
}

// waitAnswering waits until the resolver at addr ("ip:53", UDP) in ns answers a query (any
// answer, NXDOMAIN included), or p exits: a VM's first lookup must not meet a closed port.
func waitAnswering(ctx context.Context, ns, addr string, p netns.Process) error {
	name := dnsmessage.MustNewName("reachgate-ready.invalid.")
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 1, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	query, err := q.Pack()
	if err != nil {
		return err
	}
	dial := netns.Dialer(ns)
	var last error
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := dial(ctx, "udp", addr); err != nil {
			last = err
		} else {
			_ = c.SetDeadline(time.Now().Add(250 * time.Millisecond))
			buf := make([]byte, 512)
			if _, err = c.Write(query); err == nil {
				_, err = c.Read(buf)
			}
			c.Close()
			if err == nil {
				return nil
			}
			last = err
		}
		if !p.Running() {
			return fmt.Errorf("%s exited at start; see %s", p.Name, p.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer at %s in %s after 15 s: %w (log: %s)", p.Name, addr, ns, last, p.Log)
		}
	}
}

// writeGoogleAPIsConfig renders the cloud state into the front end's and resolvers' files;
// both daemons reread them when they change.
func (l *Lab) writeGoogleAPIsConfig() error {
	c := l.Current.Cluster
	if c == nil || c.DNS == nil || l.CP == nil {
		return nil
	}
	cs := l.Cloud
	if cs == nil {
		cs = &CloudState{}
	}
	principals := slices.Clone(cs.ClusterConnect)
	slices.Sort(principals)
	cfg := gfe.Config{Endpoints: []gfe.Endpoint{{
		Host: c.DNS.Name, Cluster: c.Name, AllowExternalTraffic: c.DNS.AllowExternalTraffic,
		Principals: principals, Upstream: l.Plan.GoogleAPIsUpstream(l.Current),
		UpstreamCA: filepath.Join(l.CP.Dir, "pki", "ca.crt"), UpstreamServerName: "kubernetes",
		ReviewerCert: filepath.Join(l.CP.Dir, "pki", "admin.crt"), ReviewerKey: filepath.Join(l.CP.Dir, "pki", "admin.key"),
	}}}
	if err := gfe.WriteConfig(filepath.Join(l.GoogleAPIsDir(), "config.json"), cfg); err != nil {
		return err
	}
	for _, n := range l.Topology.Networks {
		if _, ok := l.Topology.ResolverAddr(n.Name); !ok {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(l.zonesPath(n.Name)), 0o700); err != nil {
			return err
		}
		if err := dnsserver.WriteFile(l.zonesPath(n.Name), dnsserver.File{Zones: cs.PrivateZones[n.Name]}); err != nil {
			return err
		}
	}
	return nil
}

// ServeGoogleAPIs runs the front end (the daemon 'lab google-apis' is), until ctx ends.
func ServeGoogleAPIs(ctx context.Context, name string, log *slog.Logger) error {
	l, err := Open(name)
	if err != nil {
		return err
	}
	var ls []net.Listener
	for _, addr := range netns.GoogleAPIsListen() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		ls = append(ls, ln)
	}
	dir := l.GoogleAPIsDir()
	return gfe.Serve(ctx, ls, filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key"), filepath.Join(dir, "config.json"), log)
}

// ServeResolver runs vpc's resolver (the daemon 'lab resolver' is), until ctx ends.
func ServeResolver(ctx context.Context, name, vpc string, log *slog.Logger) error {
	l, err := Open(name)
	if err != nil {
		return err
	}
	a, ok := l.Topology.ResolverAddr(vpc)
	if !ok {
		return fmt.Errorf("vpc %q has no resolver in lab %s (only third-party VPCs do, when the cluster has a DNS endpoint)", vpc, name)
	}
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(a, 53).String())
	if err != nil {
		return err
	}
	return dnsserver.New(l.zonesPath(vpc), log).Serve(ctx, pc)
}

// ExplainDNSEndpoint says from the network model and the cloud state whether host from reaches
// the cluster's DNS-based endpoint, and why not: its resolver's mapping, the route to
// private.googleapis.com and back, and allowExternalTraffic. Who may call it is the front
// end's IAM check per request.
func (l *Lab) ExplainDNSEndpoint(from string) (netmodel.DNSEndpointVerdict, error) {
	if err := l.Refresh(); err != nil {
		return netmodel.DNSEndpointVerdict{}, err
	}
	h := l.hostOf(from)
	if h == nil {
		return netmodel.DNSEndpointVerdict{}, fmt.Errorf("no host %q in lab %s", from, l.State.Name)
	}
	st := netmodel.DNSEndpointState{Mapped: true}
	if c := l.Current.Cluster; c != nil && c.DNS != nil {
		st.AllowExternalTraffic = c.DNS.AllowExternalTraffic
		if _, ok := l.Topology.ResolverAddr(h.VPC); ok {
			st.Mapped = l.mapsIntoGoogleAPIs(h.VPC, c.DNS.Name)
		}
	}
	return l.Model.ExplainDNSEndpoint(h.IP, st), nil
}

// mapsIntoGoogleAPIs reports whether vpc's resolver answers name with private.googleapis.com
// addresses only, as its zones say.
func (l *Lab) mapsIntoGoogleAPIs(vpc, name string) bool {
	var zones []dnsserver.Zone
	if l.Cloud != nil {
		zones = l.Cloud.PrivateZones[vpc]
	}
	addrs := dnsserver.Lookup(zones, name)
	if len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !netmodel.PrivateGoogleAPIs.Contains(a) {
			return false
		}
	}
	return true
}
