package bgp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"reachgate/lab/internal/specfile"
)

// Status is shaped like GCP's Routers.GetRouterStatus result. The daemon writes it next to
// the spec every second (and on every session or route change) and removes it when it
// stops: a missing file means no speaker; an Updated older than a few seconds, a dead one.
type Status struct {
	Name          string       `json:"name"`
	ASN           uint32       `json:"asn"`
	RouterID      string       `json:"routerId"`
	BGPPeerStatus []PeerStatus `json:"bgpPeerStatus"`
	BestRoutes    []BestRoute  `json:"bestRoutes"`
	Updated       time.Time    `json:"updated"`
}

// PeerStatus is one session (GCP: bgpPeerStatus[]).
type PeerStatus struct {
	Name             string            `json:"name"`
	IPAddress        string            `json:"ipAddress"`     // this side's address
	PeerIPAddress    string            `json:"peerIpAddress"` // the neighbor's
	Status           string            `json:"status"`        // UP or DOWN
	State            string            `json:"state"`         // "Established", "Active", "Idle", …
	NumLearnedRoutes int               `json:"numLearnedRoutes"`
	AdvertisedRoutes []AdvertisedRoute `json:"advertisedRoutes"`
	Uptime           string            `json:"uptime"` // e.g. "3 minutes, 2 seconds"
	UptimeSeconds    string            `json:"uptimeSeconds"`
}

// AdvertisedRoute is a route sent to a peer, as the peer receives it.
type AdvertisedRoute struct {
	DestRange string `json:"destRange"`
	NextHopIP string `json:"nextHopIp"`
	Priority  uint32 `json:"priority"` // MED
}

// Peer statuses.
const (
	PeerUp   = "UP"
	PeerDown = "DOWN"
)

// Peer returns the named session's status.
func (s Status) Peer(name string) (PeerStatus, bool) {
	for _, p := range s.BGPPeerStatus {
		if p.Name == name {
			return p, true
		}
	}
	return PeerStatus{}, false
}

// Up counts the sessions that are UP.
func (s Status) Up() int {
	n := 0
	for _, p := range s.BGPPeerStatus {
		if p.Status == PeerUp {
			n++
		}
	}
	return n
}

// Route returns the best route for a destination range.
func (s Status) Route(dest string) (BestRoute, bool) {
	for _, r := range s.BestRoutes {
		if r.DestRange == dest {
			return r, true
		}
	}
	return BestRoute{}, false
}

// StatusPath is where Run writes the status of the speaker whose spec is at specPath.
func StatusPath(specPath string) string { return specPath + ".status.json" }

// ReadStatus reads the speaker's status; an error wrapping os.ErrNotExist means no speaker.
func ReadStatus(specPath string) (Status, error) {
	var st Status
	data, err := os.ReadFile(StatusPath(specPath))
	if err != nil {
		return st, fmt.Errorf("read bgp status: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("read bgp status %s: %w", StatusPath(specPath), err)
	}
	return st, nil
}

var stateNames = map[api.PeerState_SessionState]string{
	api.PeerState_UNKNOWN: "Unknown", api.PeerState_IDLE: "Idle", api.PeerState_CONNECT: "Connect",
	api.PeerState_ACTIVE: "Active", api.PeerState_OPENSENT: "OpenSent", api.PeerState_OPENCONFIRM: "OpenConfirm",
	api.PeerState_ESTABLISHED: "Established",
}

// peerStatuses asks GoBGP for every session of the spec, in the spec's order.
func peerStatuses(ctx context.Context, bs *server.BgpServer, s Spec, now time.Time) ([]PeerStatus, error) {
	peers := map[string]*api.Peer{}
	err := bs.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		peers[p.GetConf().GetNeighborAddress()] = p
	})
	if err != nil {
		return nil, fmt.Errorf("list peers: %w", err)
	}
	out := []PeerStatus{}
	for _, n := range s.Neighbors {
		ps := PeerStatus{Name: n.Name, IPAddress: n.LocalAddress, PeerIPAddress: n.Address, Status: PeerDown,
			State: "Idle", AdvertisedRoutes: []AdvertisedRoute{}}
		p := peers[n.Address]
		if p == nil {
			out = append(out, ps)
			continue
		}
		state := p.GetState().GetSessionState()
		ps.State = stateNames[state]
		if state == api.PeerState_ESTABLISHED {
			ps.Status = PeerUp
			if la := p.GetTransport().GetLocalAddress(); la != "" {
				ps.IPAddress = la
			}
			for _, af := range p.GetAfiSafis() {
				ps.NumLearnedRoutes += int(af.GetState().GetAccepted())
			}
			if up := p.GetTimers().GetState().GetUptime(); up != nil {
				d := now.Sub(up.AsTime())
				ps.Uptime, ps.UptimeSeconds = uptime(d), strconv.Itoa(int(d.Seconds()))
			}
			ps.AdvertisedRoutes = advertised(ctx, bs, n.Address)
		}
		out = append(out, ps)
	}
	return out, nil
}

// advertised lists what GoBGP sends to one peer (after the export policy).
func advertised(ctx context.Context, bs *server.BgpServer, addr string) []AdvertisedRoute {
	out := []AdvertisedRoute{}
	_ = bs.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_ADJ_OUT, Name: addr, Family: ipv4Unicast},
		func(d *api.Destination) {
			for _, p := range d.GetPaths() {
				pi, err := decodePath(p)
				if err != nil || p.GetIsWithdraw() {
					continue
				}
				ar := AdvertisedRoute{DestRange: d.GetPrefix(), Priority: pi.med}
				if pi.nextHop.IsValid() {
					ar.NextHopIP = pi.nextHop.String()
				}
				out = append(out, ar)
			}
		})
	return out
}

// uptime renders a duration as GCP does: "1 hours, 2 minutes, 3 seconds".
func uptime(d time.Duration) string {
	s := int(d.Seconds())
	parts := []string{}
	for _, u := range []struct {
		name string
		secs int
	}{{"weeks", 7 * 86400}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}} {
		if s >= u.secs || len(parts) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", s/u.secs, u.name))
			s %= u.secs
		}
	}
	parts = append(parts, fmt.Sprintf("%d seconds", s))
	return strings.Join(parts, ", ")
}

func writeStatus(specPath string, st Status) error {
	return specfile.WriteJSON(StatusPath(specPath), "bgp status", st)
}

func removeStatus(specPath string) error { return specfile.Remove(StatusPath(specPath), "bgp status") }
