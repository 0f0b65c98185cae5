package gcpapi

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
	"reachgate/lab/metadata"
	"reachgate/lab/netns"
)

// The instances' metadata, their guests and their metadata servers: instances.setMetadata
// (fingerprint-locked), getGuestAttributes, getSerialPortOutput (the boot's output) and reset. A reset is a reboot: the lab ends what
// the instance's previous boot started and runs its startup-script in the instance's
// namespace, as the guest environment of a GCE image does at boot. The metadata server of an
// instance listens at 169.254.169.254:80 inside its namespace from its first setMetadata on
// (and again when the API restarts), so a namespace nobody configured keeps its ports free.

// GuestEnv marks the processes of an instance's boot ("GuestEnv=<lab>/<instance>"); a reset
// ends them by it, and `lab down` by the lab's own mark.
const GuestEnv = "REACHGATE_GUEST"

// AgentDirEnv tells a lab guest's startup script where the instance's disk is: the lab's
// instances share one filesystem, so each gets a directory in the lab's state.
const AgentDirEnv = "REACHGATE_AGENT_DIR"

type guests struct {
	once   sync.Once
	store  *metadata.Store
	err    error
	mu     sync.Mutex
	served map[string]*http.Server
}

// metaStore opens the lab's metadata store on first use.
func (s *Server) metaStore() (*metadata.Store, error) {
	s.guests.once.Do(func() {
		s.guests.store, s.guests.err = metadata.Open(s.cloud.L.State.Path("metadata.json"))
	})
	return s.guests.store, s.guests.err
}

// instanceMetadata is the Metadata resource of an instance.
func (s *Server) instanceMetadata(name string) *computepb.Metadata {
	out := &computepb.Metadata{Kind: proto.String("compute#metadata")}
	store, err := s.metaStore()
	if err != nil {
		return out
	}
	items, fp := store.Metadata(name)
	out.Fingerprint = proto.String(fp)
	for _, it := range items {
		out.Items = append(out.Items, &computepb.Items{Key: proto.String(it.Key), Value: proto.String(it.Value)})
	}
	return out
}

// instanceMethod serves POST …/instances/NAME/setMetadata and reset, and GET
// …/getGuestAttributes, of an instance the lab has in zone.
func (s *Server) instanceMethod(w http.ResponseWriter, r *http.Request, zone string, h *topology.Machine, method string) {
	store, err := s.metaStore()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", "the lab's metadata store: "+err.Error())
		return
	}
	target := s.link("zones", zone, "instances", h.Name)
	switch {
	case method == "setMetadata" && r.Method == http.MethodPost:
		var in computepb.Metadata
		if !decode(w, r, &in) {
			return
		}
		var items []metadata.Item
		for _, it := range in.GetItems() {
			items = append(items, metadata.Item{Key: it.GetKey(), Value: it.GetValue()})
		}
		if err := metadata.Validate(items); err != nil {
			writeError(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		if _, fp := store.Metadata(h.Name); in.GetFingerprint() != fp {
			writeError(w, http.StatusPreconditionFailed, "conditionNotMet", metadata.ErrFingerprint.Error())
			return
		}
		writeProto(w, http.StatusOK, s.startOperation("zones/"+zone, "setMetadata", target, func() error {
			if err := store.SetMetadata(h.Name, in.GetFingerprint(), items); err != nil {
				return err
			}
			return s.serveMetadata(h)
		}))
	case method == "reset" && r.Method == http.MethodPost:
		writeProto(w, http.StatusOK, s.startOperation("zones/"+zone, "reset", target, func() error {
			return s.boot(context.Background(), h)
		}))
	case method == "serialPort" && r.Method == http.MethodGet:
		// What the VM's boot printed: its init's and startup script's output.
		data, err := os.ReadFile(s.cloud.L.State.Path("logs", "guest-"+h.Name+".log"))
		if err != nil && !os.IsNotExist(err) {
			writeError(w, http.StatusInternalServerError, "internalError", err.Error())
			return
		}
		start, _ := strconv.ParseInt(r.URL.Query().Get("start"), 10, 64)
		start = min(max(start, 0), int64(len(data)))
		writeProto(w, http.StatusOK, &computepb.SerialPortOutput{Kind: proto.String("compute#serialPortOutput"), SelfLink: proto.String(target + "/serialPort"),
			Contents: proto.String(string(data[start:])), Start: proto.Int64(start), Next: proto.Int64(int64(len(data)))})
	case method == "getGuestAttributes" && r.Method == http.MethodGet:
		q := r.URL.Query()
		out := &computepb.GuestAttributes{Kind: proto.String("compute#guestAttributes"), SelfLink: proto.String(target + "/guestAttributes")}
		if vk := q.Get("variableKey"); vk != "" {
			for _, e := range store.Guest(h.Name, vk) {
				if e.Namespace+"/"+e.Key == strings.Trim(vk, "/") {
					out.VariableKey, out.VariableValue = proto.String(vk), proto.String(e.Value)
					writeProto(w, http.StatusOK, out)
					return
				}
			}
			s.notFoundResource(w, "zones/"+zone+"/instances/"+h.Name+"/guestAttributes/"+vk)
			return
		}
		entries := store.Guest(h.Name, q.Get("queryPath"))
		if len(entries) == 0 {
			s.notFoundResource(w, "zones/"+zone+"/instances/"+h.Name+"/guestAttributes/"+q.Get("queryPath"))
			return
		}
		out.QueryPath = proto.String(q.Get("queryPath"))
		out.QueryValue = &computepb.GuestAttributesValue{}
		for _, e := range entries {
			out.QueryValue.Items = append(out.QueryValue.Items, &computepb.GuestAttributesEntry{
				Namespace: proto.String(e.Namespace), Key: proto.String(e.Key), Value: proto.String(e.Value)})
		}
		writeProto(w, http.StatusOK, out)
	default:
		methodNotAllowed(w, r)
	}
}

// projectNumber is the lab project's stable number.
func projectNumber(project string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(project))
	return h.Sum64()%900_000_000_000 + 100_000_000_000
}

func (s *Server) metadataInstance(h *topology.Machine) metadata.Instance {
	zone, _ := s.hostZone(h)
	return metadata.Instance{Name: h.Name, Zone: zone, Project: s.project, ProjectNumber: projectNumber(s.project),
		ID: stableID(zone + "/instance/" + h.Name), IP: h.IP.String()}
}

// MetadataServer is the metadata server of an instance as a handler, for a guest that is not
// in the instance's namespace (an agent under test in this process).
func (s *Server) MetadataServer(instance string) (http.Handler, error) {
	store, err := s.metaStore()
	if err != nil {
		return nil, err
	}
	h := s.cloud.L.Current.Host(instance)
	if h == nil {
		return nil, fmt.Errorf("no instance %s", instance)
	}
	if _, ok := s.hostZone(h); !ok {
		return nil, fmt.Errorf("%s is not an instance of the project", instance)
	}
	return store.Handler(s.metadataInstance(h)), nil
}

// serveMetadata starts the metadata server of an instance in its namespace, once. An API
// whose lab has no namespaces (in-process tests) serves none.
func (s *Server) serveMetadata(h *topology.Machine) error {
	store, err := s.metaStore()
	if err != nil {
		return err
	}
	s.guests.mu.Lock()
	defer s.guests.mu.Unlock()
	if s.guests.served[h.Name] != nil {
		return nil
	}
	ns := s.cloud.L.State.Hosts[h.Name].Namespace
	if ns == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := netns.Output(ctx, "ip", "-n", ns, "addr", "replace", metadata.Addr+"/32", "dev", "lo"); err != nil {
		return fmt.Errorf("metadata server of %s: %w", h.Name, err)
	}
	ln, err := netns.Listen(ns, "tcp", metadata.Addr+":80")
	if err != nil {
		return fmt.Errorf("metadata server of %s: %w", h.Name, err)
	}
	srv := &http.Server{Handler: store.Handler(s.metadataInstance(h)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if s.guests.served == nil {
		s.guests.served = map[string]*http.Server{}
	}
	s.guests.served[h.Name] = srv
	return nil
}

// stopMetadata closes an instance's metadata server (the instance is being deleted: its
// listening socket would keep the deleted namespace alive).
func (s *Server) stopMetadata(name string) {
	s.guests.mu.Lock()
	defer s.guests.mu.Unlock()
	if srv := s.guests.served[name]; srv != nil {
		_ = srv.Close()
		delete(s.guests.served, name)
	}
}

// ResumeGuests starts the metadata servers of the instances that have metadata (the API
// restarted); what their guests run kept running.
func (s *Server) ResumeGuests() error {
	store, err := s.metaStore()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range store.Instances() {
		if h := s.cloud.L.Current.Host(name); h != nil {
			errs = append(errs, s.serveMetadata(h))
		}
	}
	return errors.Join(errs...)
}

// boot is an instance's reboot: what the previous boot started is ended, then the
// startup-script (if the metadata has one) runs in the instance's namespace, recorded as
// the lab's process guest-<instance>, with the instance's directory in the lab's state as
// its disk (REACHGATE_AGENT_DIR, TMPDIR).
func (s *Server) boot(ctx context.Context, h *topology.Machine) error {
	st := s.cloud.L.State
	ns := st.Hosts[h.Name].Namespace
	if ns == "" {
		return fmt.Errorf("instance %s has no namespace in this lab", h.Name)
	}
	mark := GuestEnv + "=" + st.Name + "/" + h.Name
	if _, err := netns.EndMarked(ctx, mark, 2*time.Second); err != nil {
		return fmt.Errorf("stop the previous boot of %s: %w", h.Name, err)
	}
	if err := s.serveMetadata(h); err != nil {
		return err
	}
	store, err := s.metaStore()
	if err != nil {
		return err
	}
	script, ok := store.Value(h.Name, "startup-script")
	if !ok {
		return nil
	}
	dir := st.Path("hosts", h.Name, "guest")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !strings.HasPrefix(script, "#!") {
		script = "#!/bin/sh\n" + script
	}
	file := filepath.Join(dir, "startup-script")
	if err := os.WriteFile(file, []byte(script), 0o700); err != nil {
		return err
	}
	if s.cloud.Self == "" {
		return fmt.Errorf("reset %s: this API was started without the reachgate binary that runs a guest's init", h.Name)
	}
	_, err = st.Start(netns.StartSpec{Name: "guest-" + h.Name, Namespace: ns, Path: s.cloud.Self, Args: []string{"guest-init", file}, Dir: dir,
		Env: []string{mark, AgentDirEnv + "=" + dir, "TMPDIR=" + dir}})
	return err
}
