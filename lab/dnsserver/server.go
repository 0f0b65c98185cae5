package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// ttl is the TTL of every answer: short, so a rewritten zone file shows quickly.
const ttl = 5

// maxUDP is the largest answer sent; a larger one is truncated (TC set, no answers).
const maxUDP = 512

// Server answers DNS queries over UDP from a zone file.
type Server struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	stat  os.FileInfo // of the zone file last read; nil when it was missing
	zones *zoneSet
	// problem is the last error reading the zone file, logged once.
	problem string
}

// New returns a server for the zone file at zonesPath. The file is read on the first
// query and re-read whenever it changes; a missing file means no zones.
func New(zonesPath string, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{path: zonesPath, log: log, zones: &zoneSet{}}
}

// Serve answers queries arriving on pc until ctx is done, then closes pc and returns nil.
// It returns an error if reading from pc fails otherwise.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { _ = pc.Close() })
	defer stop()
	defer pc.Close()
	buf := make([]byte, 65535)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dns server on %s: read: %w", pc.LocalAddr(), err)
		}
		resp := s.answer(buf[:n], addr)
		if resp == nil {
			continue
		}
		if _, err := pc.WriteTo(resp, addr); err != nil && ctx.Err() == nil {
			s.log.Warn("dns: send answer", "client", addr.String(), "err", err)
		}
	}
}

// current returns the zones, re-reading the zone file if it changed since the last query.
// A malformed file keeps the last good zones; its error is logged once.
func (s *Server) current() *zoneSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if s.stat != nil || s.problem != "" || len(s.zones.zones) > 0 {
			s.log.Info("dns: zone file is missing: serving no zones", "path", s.path)
		}
		s.stat, s.zones, s.problem = nil, &zoneSet{}, ""
		return s.zones
	case err != nil:
		s.report(fmt.Errorf("stat DNS zone file: %w", err))
		return s.zones
	case s.stat != nil && os.SameFile(s.stat, st) && s.stat.ModTime().Equal(st.ModTime()) && s.stat.Size() == st.Size():
		return s.zones
	}
	// Remember the version even if it is bad, so a bad file is read (and logged) once.
	s.stat = st
	f, err := ReadFile(s.path)
	if err == nil {
		var zs *zoneSet
		if zs, err = compile(f); err == nil {
			s.zones, s.problem = zs, ""
			s.log.Info("dns: zone file loaded", "path", s.path, "zones", len(zs.zones))
			return s.zones
		}
		err = fmt.Errorf("DNS zone file %s: %w", s.path, err)
	}
	s.report(err)
	return s.zones
}

// report logs a zone file problem unless it is the one logged last.
func (s *Server) report(err error) {
	if msg := err.Error(); msg != s.problem {
		s.problem = msg
		s.log.Error("dns: keeping the last good zones", "err", err)
	}
}

// answer builds the reply to one packet, or nil to ignore it.
func (s *Server) answer(packet []byte, client net.Addr) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(packet)
	if err != nil || h.Response {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return nil
	}
	reply := dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		OpCode:             h.OpCode,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
	}
	switch {
	case h.OpCode != 0:
		reply.RCode = dnsmessage.RCodeNotImplemented
		return s.pack(reply, qs, nil)
	case len(qs) != 1:
		reply.RCode = dnsmessage.RCodeFormatError
		return s.pack(reply, qs, nil)
	}
	q := qs[0]
	name := canonical(q.Name.String())
	zoneName, addrs, found := s.current().lookup(name)
	var answers []netip.Addr
	switch {
	case zoneName == "":
		reply.RCode = dnsmessage.RCodeNameError
	case !found:
		reply.RCode, reply.Authoritative = dnsmessage.RCodeNameError, true
	default:
		reply.Authoritative = true
		if q.Type == dnsmessage.TypeA && (q.Class == dnsmessage.ClassINET || q.Class == dnsmessage.ClassANY) {
			answers = addrs
		}
	}
	resp := s.pack(reply, qs, answers)
	if len(resp) > maxUDP {
		reply.Truncated = true
		answers = nil
		resp = s.pack(reply, qs, nil)
	}
	if zoneName == "" {
		zoneName = "no zone"
	}
	s.log.Info("dns query",
		"name", strings.ToLower(q.Name.String()),
		"type", strings.TrimPrefix(q.Type.String(), "Type"),
		"rcode", rcodeName(reply.RCode),
		"answers", len(answers),
		"zone", zoneName,
		"client", client.String())
	return resp
}

// pack renders a reply echoing the questions, with an A record per address.
func (s *Server) pack(h dnsmessage.Header, qs []dnsmessage.Question, addrs []netip.Addr) []byte {
	b := dnsmessage.NewBuilder(make([]byte, 0, maxUDP), h)
	b.EnableCompression()
	err := b.StartQuestions()
	for _, q := range qs {
		if err == nil {
			err = b.Question(q)
		}
	}
	if err == nil {
		err = b.StartAnswers()
	}
	for _, a := range addrs {
		if err == nil {
			err = b.AResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: ttl},
				dnsmessage.AResource{A: a.As4()})
		}
	}
	var out []byte
	if err == nil {
		out, err = b.Finish()
	}
	if err != nil {
		s.log.Error("dns: build answer", "err", err)
		return nil
	}
	return out
}

// rcodeName is an rcode's name as dig prints it.
func rcodeName(rc dnsmessage.RCode) string {
	switch rc {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return rc.String()
}
