package wan

import (
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// schedule decides, for one direction, whether a packet is lost and when it leaves.
// Within a flow departures never go backwards: a packet that drew a shorter hold than the
// one before it in its flow leaves right after that one. So jitter never reorders a flow
// (TCP over a real WAN path sees no reordering either; netem's reordering jitter makes TCP
// retransmit), while different flows get independent jitter, as behind a real path's
// ECMP. The cost: under back-to-back packets of one flow the hold is skewed towards
// Delay+Jitter; a lone packet keeps the uniform Delay±Jitter.
type schedule struct {
	rng  *rand.Rand
	last [flowSlots]time.Duration // departure of each flow's previous packet
}

func newSchedule(seed uint64, dir uint64) *schedule {
	return &schedule{rng: rand.New(rand.NewPCG(seed, dir))}
}

// admit returns the departure time for a packet of flow that arrived at now, or false
// when the packet is lost. Times are durations on one monotonic clock.
func (s *schedule) admit(now time.Duration, flow uint32, imp Impairment) (time.Duration, bool) {
	if imp.Loss > 0 && s.rng.Float64()*100 < imp.Loss {
		return 0, false
	}
	hold := imp.Delay
	if imp.Jitter > 0 {
		hold += time.Duration(s.rng.Int64N(int64(2*imp.Jitter)+1)) - imp.Jitter
	}
	slot := &s.last[flow%flowSlots]
	due := max(now+max(hold, 0), *slot)
	*slot = due
	return due, true
}

// bumpTTL adds one to an IPv4 packet's TTL and fixes the header checksum (RFC 1624). The
// kernel forwards each impaired packet twice (to the TUN device, then on from it); this
// gives back the extra hop so a path's hop count and TTL-1 protocols (eBGP) are unchanged.
func bumpTTL(p []byte) {
	if len(p) < 20 || p[0]>>4 != 4 || p[8] == 255 {
		return
	}
	old := uint32(p[8])<<8 | uint32(p[9])
	p[8]++
	sum := uint32(^binary.BigEndian.Uint16(p[10:12])) + (^old & 0xffff) + (old + 0x100)
	sum = (sum & 0xffff) + (sum >> 16)
	sum = (sum & 0xffff) + (sum >> 16)
	binary.BigEndian.PutUint16(p[10:12], ^uint16(sum))
}
