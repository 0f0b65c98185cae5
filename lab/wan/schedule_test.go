package wan

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// Departures of a flow never go backwards, whatever the jitter draws: no reordering.
func TestScheduleKeepsOrder(t *testing.T) {
	t.Parallel()
	s := newSchedule(42, 1)
	imp := Impairment{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}
	var last, now time.Duration
	minHold, maxHold := time.Hour, time.Duration(0)
	for i := range 10000 {
		now += time.Duration(i%7) * 100 * time.Microsecond // bursts and gaps
		due, ok := s.admit(now, 7, imp)
		if !ok {
			t.Fatal("a packet was lost without loss configured")
		}
		if due < last {
			t.Fatalf("packet %d leaves at %v, before the previous one (%v)", i, due, last)
		}
		if hold := due - now; hold < imp.Delay-imp.Jitter {
			t.Fatalf("packet %d held %v; want at least %v", i, hold, imp.Delay-imp.Jitter)
		} else {
			minHold, maxHold = min(minHold, hold), max(maxHold, hold)
		}
		last = due
	}
	// Jitter is real: the holds spread over most of delay±jitter.
	if minHold > imp.Delay-imp.Jitter/2 || maxHold < imp.Delay+imp.Jitter/2 {
		t.Errorf("holds spread over %v-%v; want most of %v-%v", minHold, maxHold, imp.Delay-imp.Jitter, imp.Delay+imp.Jitter)
	}
}

// A lone packet (no queue before it) is held exactly Delay±Jitter, uniformly.
func TestScheduleLonePacketHold(t *testing.T) {
	t.Parallel()
	s := newSchedule(7, 2)
	imp := Impairment{Delay: time.Millisecond, Jitter: 100 * time.Microsecond}
	var sum time.Duration
	const n = 5000
	for i := range n {
		now := time.Duration(i) * time.Second
		due, _ := s.admit(now, 7, imp)
		hold := due - now
		if hold < 900*time.Microsecond || hold > 1100*time.Microsecond {
			t.Fatalf("hold %v outside 1ms±100µs", hold)
		}
		sum += hold
	}
	if mean := sum / n; mean < 995*time.Microsecond || mean > 1005*time.Microsecond {
		t.Errorf("mean hold %v; want 1ms ±5µs", mean)
	}
}

func TestScheduleLoss(t *testing.T) {
	t.Parallel()
	for _, loss := range []float64{0, 1, 10, 50} {
		s := newSchedule(1, 1)
		const n = 100000
		lost := 0
		for i := range n {
			if _, ok := s.admit(time.Duration(i), 7, Impairment{Loss: loss}); !ok {
				lost++
			}
		}
		got := 100 * float64(lost) / n
		// 5σ of a binomial, plus a floor for loss 0.
		bound := 5*math.Sqrt(n*loss/100*(1-loss/100))*100/n + 1e-9
		if math.Abs(got-loss) > bound {
			t.Errorf("loss %g%%: measured %.3f%%; want within %.3f", loss, got, bound)
		}
	}
}

func checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestBumpTTL(t *testing.T) {
	t.Parallel()
	for _, ttl := range []byte{0, 1, 63, 64, 127, 254} {
		for _, proto := range []byte{1, 6, 17, 255} {
			h := []byte{0x45, 0, 0, 20, 0x12, 0x34, 0x40, 0, ttl, proto, 0, 0, 10, 250, 1, 2, 10, 250, 2, 2}
			binary.BigEndian.PutUint16(h[10:], checksum(h))
			bumpTTL(h)
			if h[8] != ttl+1 {
				t.Fatalf("ttl %d → %d; want %d", ttl, h[8], ttl+1)
			}
			if c := checksum(h); c != 0 {
				t.Errorf("ttl %d proto %d: header checksum invalid after bump (residue %#x)", ttl, proto, c)
			}
		}
	}
	h := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 255, 6, 0xab, 0xcd, 1, 1, 1, 1, 2, 2, 2, 2}
	bumpTTL(h)
	if h[8] != 255 || h[10] != 0xab {
		t.Errorf("ttl 255 was changed: %v", h[8:12])
	}
	v6 := []byte{0x60, 0, 0, 0, 0, 0, 17, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	bumpTTL(v6)
	if v6[8] != 0 || v6[7] != 64 {
		t.Errorf("an IPv6 packet was changed: %v", v6[:10])
	}
}

// Different flows get independent jitter: a new flow is not held behind another's packet.
func TestScheduleFlowsIndependent(t *testing.T) {
	t.Parallel()
	s := newSchedule(3, 1)
	imp := Impairment{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}
	earlier := 0
	for i := range 1000 {
		now := time.Duration(i) * time.Microsecond
		a, _ := s.admit(now, 1, imp)
		b, _ := s.admit(now, 2, imp)
		if b < a {
			earlier++
		}
	}
	// Flow 2's packets draw their own holds, so about half leave before flow 1's.
	if earlier < 100 {
		t.Errorf("flow 2 left before flow 1 in %d of 1000 rounds; want about half (flows are independent)", earlier)
	}
}

func TestHoldQueueOrder(t *testing.T) {
	t.Parallel()
	var q holdQueue
	dues := []time.Duration{5, 3, 9, 3, 1, 9, 7}
	for i, d := range dues {
		q.push(held{due: d, seq: uint64(i)})
	}
	var got []held
	for q.Len() > 0 {
		got = append(got, q.pop())
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if b.due < a.due || b.due == a.due && b.seq < a.seq {
			t.Fatalf("popped %v after %v", b, a)
		}
	}
}

func TestFlowKey(t *testing.T) {
	t.Parallel()
	pkt := func(proto byte, frag uint16, sport, dport uint16) []byte {
		p := make([]byte, 28)
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[6:], frag)
		p[9] = proto
		copy(p[12:20], []byte{10, 250, 1, 2, 10, 250, 2, 2})
		binary.BigEndian.PutUint16(p[20:], sport)
		binary.BigEndian.PutUint16(p[22:], dport)
		return p
	}
	if flowKey(pkt(6, 0, 40000, 443)) == flowKey(pkt(6, 0, 40001, 443)) {
		t.Error("two TCP connections share a flow")
	}
	if flowKey(pkt(6, 0, 40000, 443)) != flowKey(pkt(6, 0x4000, 40000, 443)) {
		t.Error("the DF bit changed the flow")
	}
	if flowKey(pkt(17, 0x2000, 1, 2)) != flowKey(pkt(17, 0x0010, 3, 4)) {
		t.Error("fragments of one address pair are in different flows")
	}
	if flowKey(pkt(1, 0, 1, 2)) != flowKey(pkt(1, 0, 3, 4)) {
		t.Error("ICMP packets of one address pair are in different flows")
	}
}
