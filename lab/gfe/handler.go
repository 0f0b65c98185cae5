package gfe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// recheckEvery is how often, at most, the handler looks at its configuration file.
const recheckEvery = time.Second

// handler serves the DNS endpoints of its configuration file.
type handler struct {
	path   string
	log    *slog.Logger
	tokens *tokenCache

	mu        sync.Mutex
	checked   time.Time   // when the file was last looked at
	stat      os.FileInfo // of the version last read; nil before one was read
	good      bool        // a good version was read
	endpoints map[string]*endpoint
	problem   string // the last problem with the file, logged once
}

// NewHandler returns the front end's handler for the configuration at configPath. The
// file is read on the first request and re-read when it changes (looked at once a
// second at most); a missing or malformed file after a good one keeps the good one.
func NewHandler(configPath string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &handler{path: configPath, log: log, tokens: newTokenCache(), endpoints: map[string]*endpoint{}}
}

// endpointFor returns the endpoint serving host, re-reading the configuration first if it
// is due and changed.
func (h *handler) endpointFor(host string) *endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); h.checked.IsZero() || now.Sub(h.checked) >= recheckEvery {
		h.checked = now
		h.reload()
	}
	return h.endpoints[host]
}

// reload re-reads the configuration if the file changed. h.mu is held.
func (h *handler) reload() {
	st, err := os.Stat(h.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if h.good {
			h.report("the config file is missing")
		}
		return
	case err != nil:
		h.report(fmt.Sprintf("stat config: %v", err))
		return
	case h.stat != nil && os.SameFile(h.stat, st) && h.stat.ModTime().Equal(st.ModTime()) && h.stat.Size() == st.Size():
		return
	}
	// Remember the version even if it is bad, so a bad file is read (and logged) once.
	h.stat = st
	c, err := ReadConfig(h.path)
	if err != nil {
		h.report(err.Error())
		return
	}
	next := make(map[string]*endpoint, len(c.Endpoints))
	for _, ep := range c.Endpoints {
		host := canonicalHost(ep.Host)
		if old := h.endpoints[host]; old != nil && reflect.DeepEqual(old.Endpoint, ep) {
			next[host] = old // keeps its connections to the control plane
			continue
		}
		next[host] = newEndpoint(ep, h.log)
	}
	for host, old := range h.endpoints {
		if next[host] != old {
			old.close()
		}
	}
	h.endpoints, h.good, h.problem = next, true, ""
	h.log.Info("gfe: config loaded", "path", h.path, "endpoints", len(next))
}

// report logs a configuration problem unless it is the one logged last. h.mu is held.
func (h *handler) report(problem string) {
	if problem == h.problem {
		return
	}
	h.problem = problem
	if h.good {
		h.log.Error("gfe: keeping the last good config", "path", h.path, "problem", problem)
	} else {
		h.log.Error("gfe: no good config yet: serving no endpoints", "path", h.path, "problem", problem)
	}
}

// ServeHTTP checks the request as Google's front end does and forwards it to the
// cluster's control plane, logging one access line.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	principal := "-"
	defer func() {
		// Logged even when the proxy aborts a response with a panic.
		h.log.LogAttrs(context.Background(), slog.LevelInfo, "access",
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.code()),
			slog.String("principal", principal),
			slog.Int64("duration_ms", time.Since(start).Milliseconds()),
			slog.String("client", r.RemoteAddr))
	}()
	h.serve(rec, r, &principal)
}

// serve does the checks in the front end's order: endpoint, external traffic, token,
// authentication, authorization; then forwards. It sets *principal once known.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, principal *string) {
	host := canonicalHost(r.Host)
	ep := h.endpointFor(host)
	if ep == nil {
		http.Error(w, fmt.Sprintf("no GKE DNS endpoint is served at %s", host), http.StatusNotFound)
		return
	}
	if !ep.AllowExternalTraffic {
		http.Error(w, fmt.Sprintf("cluster %s refuses user traffic on its DNS endpoint: dnsEndpointConfig.allowExternalTraffic is false",
			ep.Cluster), http.StatusForbidden)
		return
	}
	token, ok := bearerToken(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gke"`)
		http.Error(w, "a bearer token is required", http.StatusUnauthorized)
		return
	}
	c, err := ep.clients()
	if err != nil {
		h.log.Error("gfe: endpoint misconfigured", "host", host, "err", err)
		http.Error(w, fmt.Sprintf("the front end cannot reach cluster %s: %v", ep.Cluster, err), http.StatusBadGateway)
		return
	}
	user, err := h.authenticate(r.Context(), ep, c, token)
	if err != nil {
		h.log.Warn("gfe: token review failed", "host", host, "upstream", ep.Upstream, "err", err)
		http.Error(w, fmt.Sprintf("cannot authenticate the caller: token review with cluster %s failed", ep.Cluster), http.StatusBadGateway)
		return
	}
	if user == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gke", error="invalid_token"`)
		http.Error(w, "the token is not valid", http.StatusUnauthorized)
		return
	}
	*principal = user
	if !slices.Contains(ep.Principals, user) {
		http.Error(w, fmt.Sprintf("principal %s lacks container.clusters.connect on cluster %s", user, ep.Cluster), http.StatusForbidden)
		return
	}
	c.proxy.ServeHTTP(w, r)
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// recorder notes a response's status. Its Unwrap lets ReverseProxy flush (streaming) and
// hijack (upgrades) the real ResponseWriter through http.ResponseController.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection over for an upgrade; the proxy writes the 101 itself.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

// code is the status sent, 200 if none was.
func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
