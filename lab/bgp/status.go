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

	"reachgate/framework/cloud"
	"reachgate/lab/internal/specfile"
)

// StatusPath is where Run writes the status of the speaker whose spec is at specPath.
func StatusPath(specPath string) string { return specPath + ".status.json" }

// ReadStatus reads the speaker's status (routers.getRouterStatus). The daemon writes it next to
// the spec every second (and on every session or route change) and removes it when it stops:
// a missing file means no speaker; an Updated older than a few seconds, a dead one. An error
// wrapping os.ErrNotExist means no speaker.
func ReadStatus(specPath string) (cloud.RouterStatus, error) {
	var st cloud.RouterStatus
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
func peerStatuses(ctx context.Context, bs *server.BgpServer, s Spec, now time.Time) ([]cloud.PeerStatus, error) {
	peers := map[string]*api.Peer{}
	err := bs.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		peers[p.GetConf().GetNeighborAddress()] = p
	})
	if err != nil {
		return nil, fmt.Errorf("list peers: %w", err)
	}
	out := []cloud.PeerStatus{}
	for _, n := range s.Neighbors {
		ps := cloud.PeerStatus{Name: n.Name, IPAddress: n.LocalAddress, PeerIPAddress: n.Address, Status: cloud.PeerDown,
			State: "Idle", AdvertisedRoutes: []cloud.AdvertisedRoute{}}
		p := peers[n.Address]
		if p == nil {
			out = append(out, ps)
			continue
		}
		state := p.GetState().GetSessionState()
		ps.State = stateNames[state]
		if state == api.PeerState_ESTABLISHED {
			ps.Status = cloud.PeerUp
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
func advertised(ctx context.Context, bs *server.BgpServer, addr string) []cloud.AdvertisedRoute {
	out := []cloud.AdvertisedRoute{}
	_ = bs.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_ADJ_OUT, Name: addr, Family: ipv4Unicast},
		func(d *api.Destination) {
			for _, p := range d.GetPaths() {
				pi, err := decodePath(p)
				if err != nil || p.GetIsWithdraw() {
					continue
				}
				ar := cloud.AdvertisedRoute{DestRange: d.GetPrefix(), Priority: pi.med}
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

func writeStatus(specPath string, st cloud.RouterStatus) error {
	return specfile.WriteJSON(StatusPath(specPath), "bgp status", st)
}

func removeStatus(specPath string) error { return specfile.Remove(StatusPath(specPath), "bgp status") }
