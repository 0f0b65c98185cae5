package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync/atomic"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/types/known/anypb"
)

var ipv4Unicast = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}

// exportPolicy makes the speaker advertise only its own prefixes, as a Cloud Router does:
// learned routes are never passed on to other peers.
const exportPolicy = "rg-advertise-own-only"

// startSpeaker starts GoBGP with the spec's global settings and export policy.
func startSpeaker(ctx context.Context, s Spec, log *slog.Logger) (*server.BgpServer, error) {
	bs := server.NewBgpServer(server.LoggerOption(newLogger(log)))
	go bs.Serve()
	err := bs.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: s.ASN, RouterId: s.RouterID, ListenPort: s.ListenPort, ListenAddresses: s.ListenAddresses,
	}})
	if err != nil {
		bs.Stop()
		return nil, fmt.Errorf("start BGP (asn %d, listen %v port %d; is another speaker on that port in this namespace?): %w",
			s.ASN, s.ListenAddresses, s.ListenPort, err)
	}
	reject := &api.Actions{RouteAction: api.RouteAction_REJECT}
	err = bs.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: exportPolicy, Statements: []*api.Statement{
		{Name: exportPolicy + "-ebgp", Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_EXTERNAL}, Actions: reject},
		{Name: exportPolicy + "-ibgp", Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_INTERNAL}, Actions: reject},
	}}})
	if err == nil {
		err = bs.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: api.PolicyDirection_EXPORT,
			Policies: []*api.Policy{{Name: exportPolicy}}, DefaultAction: api.RouteAction_ACCEPT,
		}})
	}
	if err != nil {
		stopSpeaker(ctx, bs)
		return nil, fmt.Errorf("set the export policy: %w", err)
	}
	return bs, nil
}

// stopSpeaker closes every session with a Cease notification (peers withdraw at once
// rather than after their hold time) and stops the server; it gives up when ctx is done,
// since GoBGP waits for every session without a deadline.
func stopSpeaker(ctx context.Context, bs *server.BgpServer) {
	done := make(chan struct{})
	go func() {
		bs.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func apiPeer(n Neighbor) *api.Peer {
	return &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Address, PeerAsn: n.PeerASN, Description: n.Name},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(n.Timers.ConnectRetry),
			HoldTime:          uint64(n.Timers.Hold),
			KeepaliveInterval: uint64(n.Timers.Keepalive),
		}},
		Transport: &api.Transport{PassiveMode: n.Passive, LocalAddress: n.LocalAddress},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: ipv4Unicast, Enabled: true}}},
	}
}

func addNeighbor(ctx context.Context, bs *server.BgpServer, n Neighbor) error {
	if err := bs.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(n)}); err != nil {
		return fmt.Errorf("add neighbor %s (%s, asn %d): %w", n.Name, n.Address, n.PeerASN, err)
	}
	return nil
}

func deleteNeighbor(ctx context.Context, bs *server.BgpServer, n Neighbor) error {
	if err := bs.DeletePeer(ctx, &api.DeletePeerRequest{Address: n.Address}); err != nil {
		return fmt.Errorf("delete neighbor %s (%s): %w", n.Name, n.Address, err)
	}
	return nil
}

// apiPath is an originated IPv4 path; GoBGP sets the next hop to the session's local address.
func apiPath(a Advertisement) (*api.Path, error) {
	p, err := netip.ParsePrefix(a.Prefix)
	if err != nil {
		return nil, err
	}
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	if err != nil {
		return nil, err
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP
	if err != nil {
		return nil, err
	}
	nh, err := anypb.New(&api.NextHopAttribute{NextHop: "0.0.0.0"})
	if err != nil {
		return nil, err
	}
	med, err := anypb.New(&api.MultiExitDiscAttribute{Med: a.MED})
	if err != nil {
		return nil, err
	}
	return &api.Path{Family: ipv4Unicast, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh, med}}, nil
}

// announce originates a (re-announcing a prefix with a new MED replaces the old path).
func announce(ctx context.Context, bs *server.BgpServer, a Advertisement) error {
	p, err := apiPath(a)
	if err == nil {
		_, err = bs.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: p})
	}
	if err != nil {
		return fmt.Errorf("announce %s: %w", a.Prefix, err)
	}
	return nil
}

func withdraw(ctx context.Context, bs *server.BgpServer, a Advertisement) error {
	p, err := apiPath(a)
	if err == nil {
		err = bs.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast, Path: p})
	}
	if err != nil {
		return fmt.Errorf("withdraw %s: %w", a.Prefix, err)
	}
	return nil
}

// logger adapts GoBGP's logger to slog.
type logger struct {
	log   *slog.Logger
	level atomic.Uint32
}

func newLogger(log *slog.Logger) *logger {
	l := &logger{log: log.With("component", "gobgp")}
	l.level.Store(uint32(gobgplog.InfoLevel))
	return l
}

func (l *logger) emit(lv gobgplog.LogLevel, sl slog.Level, msg string, f gobgplog.Fields) {
	if uint32(lv) > l.level.Load() {
		return
	}
	attrs := make([]any, 0, 2*len(f))
	for k, v := range f {
		attrs = append(attrs, k, v)
	}
	l.log.Log(context.Background(), sl, msg, attrs...)
}

func (l *logger) Panic(msg string, f gobgplog.Fields) {
	l.emit(gobgplog.PanicLevel, slog.LevelError, msg, f)
	panic(msg)
}

func (l *logger) Fatal(msg string, f gobgplog.Fields) {
	l.emit(gobgplog.FatalLevel, slog.LevelError, msg, f)
	os.Exit(1)
}
func (l *logger) Error(msg string, f gobgplog.Fields) {
	l.emit(gobgplog.ErrorLevel, slog.LevelError, msg, f)
}
func (l *logger) Warn(msg string, f gobgplog.Fields) {
	l.emit(gobgplog.WarnLevel, slog.LevelWarn, msg, f)
}
func (l *logger) Info(msg string, f gobgplog.Fields) {
	l.emit(gobgplog.InfoLevel, slog.LevelInfo, msg, f)
}
func (l *logger) Debug(msg string, f gobgplog.Fields) {
	l.emit(gobgplog.DebugLevel, slog.LevelDebug, msg, f)
}
func (l *logger) SetLevel(level gobgplog.LogLevel) { l.level.Store(uint32(level)) }
func (l *logger) GetLevel() gobgplog.LogLevel      { return gobgplog.LogLevel(l.level.Load()) }
