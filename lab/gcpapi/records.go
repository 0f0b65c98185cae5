package gcpapi

import (
	"encoding/json"
	"os"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
)

// What the API keeps of each resource it inserted, beyond what the lab's cloud realizes: the
// description the caller gave and when it was inserted, so reads show the creationTimestamp
// and description GCP shows (a janitor finds a run's leftovers by them). Kept in the lab's
// state (resources.json), by the resource's path under the project
// ("regions/us-central1/addresses/rg-x").

type record struct {
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
}

type records struct {
	once sync.Once
	mu   sync.Mutex
	m    map[string]record
}

func (s *Server) recordsFile() string { return s.cloud.L.State.Path("resources.json") }

// loadRecords reads the records once; s.records.mu is held.
func (s *Server) loadRecords() {
	s.records.once.Do(func() {
		s.records.m = map[string]record{}
		if data, err := os.ReadFile(s.recordsFile()); err == nil {
			_ = json.Unmarshal(data, &s.records.m)
		}
	})
}

func (s *Server) saveRecords() error {
	data, err := json.Marshal(s.records.m)
	if err != nil {
		return err
	}
	tmp := s.recordsFile() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.recordsFile())
}

// remember records an inserted resource.
func (s *Server) remember(path, description string) error {
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	s.loadRecords()
	s.records.m[path] = record{Description: description, Created: time.Now().UTC()}
	return s.saveRecords()
}

// forget drops a deleted resource's record.
func (s *Server) forget(path string) error {
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	s.loadRecords()
	if _, ok := s.records.m[path]; !ok {
		return nil
	}
	delete(s.records.m, path)
	return s.saveRecords()
}

// stamp is a resource's creationTimestamp and description: the recorded ones for a resource
// the API inserted, the lab's creation time and none for one the topology declared.
func (s *Server) stamp(path string) (created, description *string) {
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	s.loadRecords()
	r, ok := s.records.m[path]
	if !ok {
		return proto.String(s.created()), nil
	}
	if r.Description != "" {
		description = proto.String(r.Description)
	}
	return proto.String(r.Created.Format("2006-01-02T15:04:05.000-07:00")), description
}

// recorded wraps an insert's mutation: the resource is recorded once it exists.
func (s *Server) recorded(path, description string, do func() error) func() error {
	return func() error {
		if err := do(); err != nil {
			return err
		}
		return s.remember(path, description)
	}
}

// forgotten wraps a delete's mutation: the record goes once the resource has.
func (s *Server) forgotten(path string, do func() error) func() error {
	return func() error {
		if err := do(); err != nil {
			return err
		}
		return s.forget(path)
	}
}
