package vpn

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"reachgate/lab/internal/specfile"
)

// Tunnel status values, as GCP's VpnTunnel.status reports them.
const (
	StatusEstablished       = "ESTABLISHED"
	StatusFirstHandshake    = "FIRST_HANDSHAKE"
	StatusNoIncomingPackets = "NO_INCOMING_PACKETS"
	StatusFailed            = "FAILED"
)

// Status is what the daemon observed, written next to the spec every second and removed
// when it stops: a missing file means no daemon, an Updated older than a few seconds a
// daemon that died.
type Status struct {
	Name    string         `json:"name"`
	Tunnels []TunnelStatus `json:"tunnels"`
	Updated time.Time      `json:"updated"`
}

// TunnelStatus is one tunnel, shaped after GCP's VpnTunnel {status, detailedStatus}.
type TunnelStatus struct {
	Name           string    `json:"name"`
	Interface      string    `json:"interface"`
	Address        string    `json:"address"`
	Listen         string    `json:"listen"`
	PeerEndpoint   string    `json:"peerEndpoint"`
	Status         string    `json:"status"`
	DetailedStatus string    `json:"detailedStatus"`
	LastHandshake  time.Time `json:"lastHandshake,omitzero"`
	LastReceive    time.Time `json:"lastReceive,omitzero"` // last time rxBytes grew
	RxBytes        uint64    `json:"rxBytes"`
	TxBytes        uint64    `json:"txBytes"`
}

// Count returns how many tunnels have the given status.
func (s Status) Count(status string) int {
	n := 0
	for _, t := range s.Tunnels {
		if t.Status == status {
			n++
		}
	}
	return n
}

// Tunnel returns the named tunnel's status.
func (s Status) Tunnel(name string) (TunnelStatus, bool) {
	for _, t := range s.Tunnels {
		if t.Name == name {
			return t, true
		}
	}
	return TunnelStatus{}, false
}

// StatusPath is where Run writes the status of the gateway whose spec is at specPath.
func StatusPath(specPath string) string { return specPath + ".status.json" }

// ReadStatus reads the daemon's status; an error wrapping os.ErrNotExist means no daemon.
func ReadStatus(specPath string) (Status, error) {
	var st Status
	data, err := os.ReadFile(StatusPath(specPath))
	if err != nil {
		return st, fmt.Errorf("read vpn status: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("read vpn status %s: %w", StatusPath(specPath), err)
	}
	return st, nil
}

// classify maps what was observed of a tunnel to GCP's status vocabulary.
func classify(t *tunnel, now time.Time) (status, detail string) {
	switch {
	case t.dev == nil:
		return StatusFailed, t.err
	case t.lastStatsErr != "":
		return StatusFailed, t.lastStatsErr
	case t.handshake.IsZero():
		return StatusFirstHandshake, "Waiting for the first handshake with the peer."
	case t.lastReceive.IsZero() || now.Sub(t.lastReceive) > DeadAfter:
		return StatusNoIncomingPackets, fmt.Sprintf("No incoming packets from the peer for more than %v.", DeadAfter)
	}
	return StatusEstablished, "Tunnel is up and running."
}

func tunnelStatus(t *tunnel, now time.Time) TunnelStatus {
	ts := TunnelStatus{Name: t.spec.Name, Interface: t.spec.Interface, Address: t.spec.Address,
		Listen: t.spec.Listen, PeerEndpoint: t.spec.PeerEndpoint,
		LastHandshake: t.handshake, LastReceive: t.lastReceive, RxBytes: t.rx, TxBytes: t.tx}
	ts.Status, ts.DetailedStatus = classify(t, now)
	return ts
}

func writeStatus(specPath string, st Status) error {
	return specfile.WriteJSON(StatusPath(specPath), "vpn status", st)
}

func removeStatus(specPath string) error { return specfile.Remove(StatusPath(specPath), "vpn status") }
