// Package gfe is the lab's stand-in for Google's API front end serving a GKE cluster's
// DNS-based control plane endpoint (gke-<hash>.<region>.gke.goog). Like the real one, it
// terminates TLS, authenticates the caller's bearer token (here with a Kubernetes
// TokenReview against the control plane), authorizes the principal (here a list standing
// for IAM's container.clusters.connect), refuses user traffic when the cluster's
// dnsEndpointConfig.allowExternalTraffic is false, and forwards the request to the control
// plane with a reverse proxy.
package gfe

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"reachgate/lab/internal/specfile"
)

// Config is the front end's configuration file: the DNS endpoints it serves.
type Config struct {
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one cluster's DNS endpoint.
type Endpoint struct {
	// Host is the endpoint's name, such as gke-1a2b3c.us-central1.gke.goog.
	Host string `json:"host"`
	// Cluster is the GKE cluster's name, for messages.
	Cluster string `json:"cluster"`
	// AllowExternalTraffic is the cluster's dnsEndpointConfig.allowExternalTraffic.
	AllowExternalTraffic bool `json:"allowExternalTraffic"`
	// Principals hold container.clusters.connect on the cluster: Kubernetes usernames as
	// the TokenReview reports them.
	Principals []string `json:"principals"`
	// Upstream is the control plane's address, host:port.
	Upstream string `json:"upstream"`
	// UpstreamCA is the PEM file of the cluster CA that signs the control plane's
	// serving certificate; UpstreamServerName is the name to verify it for.
	UpstreamCA         string `json:"upstreamCA"`
	UpstreamServerName string `json:"upstreamServerName"`
	// ReviewerCert and ReviewerKey are the PEM client certificate and key the front end
	// presents to create TokenReviews. Forwarded requests carry no client certificate.
	ReviewerCert string `json:"reviewerCert"`
	ReviewerKey  string `json:"reviewerKey"`
}

// WriteConfig writes c to path atomically (a temporary file renamed over path, mode
// 0644), so a running front end never reads half a file.
func WriteConfig(path string, c Config) error {
	return specfile.WriteJSON(path, "GKE front end config", c)
}

// ReadConfig reads and checks the configuration at path; a missing file is an empty
// Config.
func ReadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read GKE front end config: %w", err)
	}
	var c Config
	if err := specfile.DecodeJSON(data, &c); err != nil {
		return Config{}, fmt.Errorf("GKE front end config %s: %w", path, err)
	}
	if err := c.check(); err != nil {
		return Config{}, fmt.Errorf("GKE front end config %s: %w", path, err)
	}
	return c, nil
}

// check reports an endpoint without a host or upstream, or a host listed twice.
func (c Config) check() error {
	seen := map[string]bool{}
	for i, ep := range c.Endpoints {
		host := canonicalHost(ep.Host)
		switch {
		case host == "":
			return fmt.Errorf("endpoint %d has no host", i)
		case seen[host]:
			return fmt.Errorf("endpoint %s is listed twice", host)
		case ep.Upstream == "":
			return fmt.Errorf("endpoint %s has no upstream", host)
		}
		if _, _, err := net.SplitHostPort(ep.Upstream); err != nil {
			return fmt.Errorf("endpoint %s: upstream %q: want host:port: %w", host, ep.Upstream, err)
		}
		seen[host] = true
	}
	return nil
}

// canonicalHost is a host name without port or trailing dot, lower-cased.
func canonicalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
}
