// Package gcpapi serves a lab's cloud as the compute v1 and container v1 REST APIs, so the
// official Go clients (and gcloud, through its endpoint overrides) drive the lab as they drive
// a project. Every mutation goes to the lab's own cloud (reachgate/lab/cloud), which records it
// in the lab's state and realizes it; reads reflect that state.
//
// Served so far, compute: addresses (insert, get, list, aggregatedList, delete); routers
// (get, list, patch, getRouterStatus, aggregatedList); networks (get, list, insert, delete,
// updatePeering, listPeeringRoutes); subnetworks (get, list, aggregatedList, insert, delete);
// routes (get, list: the subnet routes); firewalls (get, list, insert, patch, delete);
// instances (get, list, aggregatedList, insert, delete, setMetadata, getGuestAttributes,
// reset: the hosts of the customer VPCs, labelled by role, and the VMs inserted, each with a
// metadata server in its namespace); interconnectAttachments (get, list, aggregatedList: the
// interconnect links); vpnGateways (insert, delete, get, list, aggregatedList, getStatus);
// vpnTunnels and externalVpnGateways (insert, delete, get, list; tunnels aggregatedList);
// regional, global and zone operations (get, wait). Container: clusters (get, list, update
// of the authorized networks) and operations (get). Shapes are the v1 REST resources,
// marshalled from the clients' own protobuf types (computepb, containerpb), so a field the
// client reads is spelled as the client expects. The Router resource has no fingerprint in
// v1 (nor does routers.patch lock on one), so none is served.
package gcpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	labcloud "reachgate/lab/cloud"
	"reachgate/lab/metadata"
)

// Server is the API of one lab.
type Server struct {
	cloud   labcloud.Lab
	project string
	// base is the scheme and host links are written under ("http://10.0.0.1:8080").
	base string

	// labMu serializes the requests' and the operations' use of the lab's cloud: a lab.Lab is
	// not safe for concurrent use. A request holds it while it is served, except while it
	// waits for an operation (startOperation) and for operations' reads and waits.
	labMu sync.Mutex
	// release unlocks labMu for the request that holds it, once (set under labMu).
	release func()

	mu  sync.Mutex
	ops map[string]*computepb.Operation
	// containerOps are the container API's operations (clusters.update answers DONE).
	containerOps map[string]*containerpb.Operation
	nextID       uint64
	// apply runs a mutation of an operation; tests replace it to delay or fail one.
	apply func(func() error) error

	// records are the descriptions and creation times of inserted resources (records.go).
	records records
	// guests holds the instances' metadata and guest attributes and serves their metadata
	// servers (metadata.go).
	guests guests
}

// New serves c as project's resources; links are written under base.
func New(c labcloud.Lab, project, base string) *Server {
	return &Server{cloud: c, project: project, base: strings.TrimSuffix(base, "/"),
		ops: map[string]*computepb.Operation{}, containerOps: map[string]*containerpb.Operation{}, nextID: uint64(time.Now().UnixNano() % 1e12),
		apply: func(f func() error) error { return f() }}
}

// ServeHTTP routes /compute/v1/projects/P/… and /v1/projects/P/locations/L/….
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	if !strings.Contains(path, "/operations/") {
		s.labMu.Lock()
		release := sync.OnceFunc(s.labMu.Unlock)
		s.release = release
		defer release()
		// Another process (the CLI, a suite's in-process calls) may have changed the lab.
		if err := s.cloud.L.Refresh(); err != nil {
			writeError(w, http.StatusInternalServerError, "internalError", "read the lab's state: "+err.Error())
			return
		}
	}
	switch {
	case strings.HasPrefix(path, "compute/v1/projects/"):
		s.compute(w, r, strings.Split(strings.TrimPrefix(path, "compute/v1/projects/"), "/"))
	case strings.HasPrefix(path, "v1/projects/"):
		s.container(w, r, strings.Split(strings.TrimPrefix(path, "v1/projects/"), "/"))
	default:
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The requested URL %s was not found on this server.", r.URL.Path))
	}
}

// compute serves p = [project, "regions", region, collection, …], [project, "global",
// collection, …], [project, "zones", zone, "instances", …] and [project, "aggregated",
// collection].
func (s *Server) compute(w http.ResponseWriter, r *http.Request, p []string) {
	if p[0] != s.project {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s' was not found", p[0]))
		return
	}
	notFound := func() {
		writeError(w, http.StatusNotFound, "notFound", "The requested URL "+r.URL.Path+" was not found on this server.")
	}
	switch {
	case len(p) >= 4 && p[1] == "regions":
		region, coll, rest := p[2], p[3], p[4:]
		switch {
		case coll == "addresses":
			s.addresses(w, r, region, rest)
		case coll == "routers":
			s.routers(w, r, region, rest)
		case coll == "vpnGateways":
			s.vpnGateways(w, r, region, rest)
		case coll == "vpnTunnels":
			s.vpnTunnels(w, r, region, rest)
		case coll == "subnetworks":
			s.subnetworks(w, r, region, rest)
		case coll == "interconnectAttachments":
			s.interconnectAttachments(w, r, region, rest)
		case coll == "operations" && len(rest) == 1 && r.Method == http.MethodGet,
			coll == "operations" && len(rest) == 2 && rest[1] == "wait" && r.Method == http.MethodPost:
			s.operation(w, r, "regions/"+region, rest[0])
		default:
			notFound()
		}
	case len(p) >= 3 && p[1] == "global":
		coll, rest := p[2], p[3:]
		switch {
		case coll == "networks":
			s.networks(w, r, rest)
		case coll == "externalVpnGateways":
			s.externalVpnGateways(w, r, rest)
		case coll == "routes":
			s.routes(w, r, rest)
		case coll == "firewalls":
			s.firewalls(w, r, rest)
		case coll == "operations" && len(rest) == 1 && r.Method == http.MethodGet,
			coll == "operations" && len(rest) == 2 && rest[1] == "wait" && r.Method == http.MethodPost:
			s.operation(w, r, "global", rest[0])
		default:
			notFound()
		}
	case len(p) >= 5 && p[1] == "zones" && p[3] == "operations":
		rest := p[4:]
		if len(rest) == 1 && r.Method == http.MethodGet || len(rest) == 2 && rest[1] == "wait" && r.Method == http.MethodPost {
			s.operation(w, r, "zones/"+p[2], rest[0])
		} else {
			notFound()
		}
	case len(p) == 3 && p[1] == "aggregated" && p[2] == "routers" && r.Method == http.MethodGet:
		s.aggregatedRouters(w, r)
	case len(p) == 3 && p[1] == "aggregated" && p[2] == "subnetworks" && r.Method == http.MethodGet:
		s.aggregatedSubnetworks(w, r)
	case len(p) == 3 && p[1] == "aggregated" && p[2] == "instances" && r.Method == http.MethodGet:
		s.aggregatedInstances(w, r)
	case len(p) == 3 && p[1] == "aggregated" && p[2] == "addresses" && r.Method == http.MethodGet:
		s.aggregatedAddresses(w, r)
	case len(p) == 3 && p[1] == "aggregated" && p[2] == "vpnGateways" && r.Method == http.MethodGet:
		s.aggregatedVpnGateways(w, r)
	case len(p) == 3 && p[1] == "aggregated" && p[2] == "vpnTunnels" && r.Method == http.MethodGet:
		s.aggregatedVpnTunnels(w, r)
	case len(p) == 3 && p[1] == "aggregated" && p[2] == "interconnectAttachments" && r.Method == http.MethodGet:
		s.aggregatedInterconnectAttachments(w, r)
	case len(p) >= 4 && p[1] == "zones" && p[3] == "instances":
		s.instances(w, r, p[2], p[4:])
	default:
		notFound()
	}
}

// operation returns an operation of scope ("regions/R" or "global"); POST …/wait waits up to
// two minutes for DONE, as regionOperations.wait and globalOperations.wait do.
func (s *Server) operation(w http.ResponseWriter, r *http.Request, scope, name string) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s.mu.Lock()
		op, ok := s.ops[name]
		var out *computepb.Operation
		if ok {
			out = proto.Clone(op).(*computepb.Operation)
		}
		s.mu.Unlock()
		if !ok || out.GetSelfLink() != s.link(scope, "operations", name) {
			writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s/%s/operations/%s' was not found", s.project, scope, name))
			return
		}
		if r.Method == http.MethodGet || out.GetStatus() == computepb.Operation_DONE || time.Now().After(deadline) {
			writeProto(w, http.StatusOK, out)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startOperation records a PENDING operation of scope ("regions/R" or "global") on target and runs do in the background; the
// operation is DONE when do returns, with error, httpErrorStatusCode and httpErrorMessage set
// together when it failed (compute's Operation resource). A mutation that finishes within
// quickWait is answered DONE at once, as GCP answers fast operations, so a client's first poll
// ends the wait instead of its one-second backoff.
func (s *Server) startOperation(scope, kind, target string, do func() error) *computepb.Operation {
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	name := fmt.Sprintf("operation-%d-%d", time.Now().UnixMilli(), id)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	op := &computepb.Operation{
		Kind: proto.String("compute#operation"), Id: proto.Uint64(id), Name: proto.String(name),
		OperationType: proto.String(kind), TargetLink: proto.String(target),
		Status: computepb.Operation_PENDING.Enum(), Progress: proto.Int32(0),
		InsertTime: proto.String(now),
		SelfLink:   proto.String(s.link(scope, "operations", name)),
	}
	if strings.HasPrefix(scope, "regions/") {
		op.Region = proto.String(s.link(scope))
	}
	if strings.HasPrefix(scope, "zones/") {
		op.Zone = proto.String(s.link(scope))
	}
	s.ops[name] = op
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.labMu.Lock()
		// PENDING until the lab is free (another mutation may be realizing), then RUNNING.
		s.mu.Lock()
		op.Status, op.StartTime = computepb.Operation_RUNNING.Enum(), proto.String(time.Now().UTC().Format(time.RFC3339Nano))
		s.mu.Unlock()
		err := s.cloud.L.Refresh()
		if err == nil {
			err = s.apply(do)
		}
		s.labMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		op.Status, op.Progress = computepb.Operation_DONE.Enum(), proto.Int32(100)
		op.EndTime = proto.String(time.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			code, reason := classify(err)
			op.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String(reason), Message: proto.String(err.Error())}}}
			op.HttpErrorStatusCode = proto.Int32(int32(code))
			op.HttpErrorMessage = proto.String(http.StatusText(code))
		}
	}()
	// The request holds s.labMu (ServeHTTP) and is done with the lab; the mutation needs it.
	s.release()
	select {
	case <-done:
	case <-time.After(quickWait):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(op).(*computepb.Operation)
}

// quickWait is how long a mutation may take and still be answered DONE.
const quickWait = 500 * time.Millisecond

// link is the selfLink of a path under the project.
func (s *Server) link(parts ...string) string {
	return s.base + "/compute/v1/projects/" + s.project + "/" + strings.Join(parts, "/")
}

// lastSegment takes a reference as a full URL (from any host), a partial path or a name.
func lastSegment(ref string) string {
	return ref[strings.LastIndex(ref, "/")+1:]
}

// classify maps a lab cloud error to an HTTP status and compute's reason code.
func classify(err error) (int, string) {
	msg := err.Error()
	switch {
	case errors.Is(err, metadata.ErrFingerprint):
		return http.StatusPreconditionFailed, "CONDITION_NOT_MET"
	case strings.Contains(msg, "already"), strings.Contains(msg, "in use"):
		return http.StatusConflict, "RESOURCE_ALREADY_EXISTS"
	case strings.Contains(msg, "does not exist"), strings.Contains(msg, "no subnetwork"):
		return http.StatusNotFound, "RESOURCE_NOT_FOUND"
	}
	return http.StatusBadRequest, "INVALID_USAGE"
}

var marshal = protojson.MarshalOptions{UseProtoNames: false}

func writeProto(w http.ResponseWriter, code int, m proto.Message) {
	data, err := marshal.Marshal(m)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeError writes Google's error body: {"error":{"code","message","errors":[…],"status"}}.
func writeError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	status := map[int]string{400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION"}[code]
	if status == "" {
		status = "INTERNAL"
	}
	type item struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}
	type body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []item `json:"errors"`
		Status  string `json:"status"`
	}
	_ = json.NewEncoder(w).Encode(map[string]body{"error": {Code: code, Message: msg,
		Errors: []item{{Message: msg, Domain: "global", Reason: reason}}, Status: status}})
}
