package lb

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"reachgate/lab/internal/specfile"
)

// Status is what the daemon last knew, for `lab status`. Run writes it next to the spec
// file after every change and removes it when it stops, so a missing status means no
// daemon; a stale Updated (older than a few intervals) means a daemon that died.
type Status struct {
	Name     string          `json:"name"`
	VIP      string          `json:"vip"`
	Ports    []int           `json:"ports"`
	Backends []BackendStatus `json:"backends"`
	// FailOpen: no backend is healthy, so new connections go to all of them (as GCP does).
	FailOpen bool      `json:"failOpen"`
	Updated  time.Time `json:"updated"`
}

// BackendStatus is one backend's health.
type BackendStatus struct {
	Addr      string    `json:"addr"`
	Healthy   bool      `json:"healthy"`
	Since     time.Time `json:"since"` // last change of Healthy
	LastError string    `json:"lastError,omitempty"`
}

// StatusPath is where Run writes the status of the LB whose spec is at specPath.
func StatusPath(specPath string) string { return specPath + ".status.json" }

// ReadStatus reads the status written by the daemon for the spec at specPath; an error
// wrapping os.ErrNotExist means no daemon is running (or it has not checked yet).
func ReadStatus(specPath string) (Status, error) {
	var st Status
	data, err := os.ReadFile(StatusPath(specPath))
	if err != nil {
		return st, fmt.Errorf("read load balancer status: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("read load balancer status %s: %w", StatusPath(specPath), err)
	}
	return st, nil
}

// status renders what h knows about s.
func status(s Spec, h *health, now time.Time) Status {
	st := Status{Name: s.Name, VIP: s.VIP, Ports: s.Ports, Backends: []BackendStatus{}, Updated: now}
	_, st.FailOpen = h.targets(s.Backends)
	for _, a := range s.Backends {
		bs := BackendStatus{Addr: a}
		if b := h.backends[a]; b != nil {
			bs.Healthy, bs.Since, bs.LastError = b.healthy, b.since, b.lastErr
		}
		st.Backends = append(st.Backends, bs)
	}
	return st
}

func writeStatus(specPath string, st Status) error {
	return specfile.WriteJSON(StatusPath(specPath), "load balancer status", st)
}

func removeStatus(specPath string) error {
	return specfile.Remove(StatusPath(specPath), "load balancer status")
}
