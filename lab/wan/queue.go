package wan

import (
	"container/heap"
	"encoding/binary"
	"hash/maphash"
	"time"
)

// flowSlots is the size of a direction's per-flow table of last departures. Flows that
// share a slot keep their order relative to each other too: a collision costs some
// jitter, never reordering.
const flowSlots = 4096

var flowSeed = maphash.MakeSeed()

// flowKey identifies a packet's flow: IPv4 addresses and protocol, plus the ports of an
// unfragmented TCP, UDP or SCTP packet. Fragments and other packets fall back to the
// address pair and protocol; non-IPv4 packets share one flow.
func flowKey(p []byte) uint32 {
	if len(p) < 20 || p[0]>>4 != 4 {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(flowSeed)
	_, _ = h.Write(p[12:20]) // source and destination
	_ = h.WriteByte(p[9])    // protocol
	ihl := int(p[0]&0x0f) * 4
	frag := binary.BigEndian.Uint16(p[6:8]) & 0x3fff // MF and offset
	switch p[9] {
	case 6, 17, 132:
		if frag == 0 && len(p) >= ihl+4 {
			_, _ = h.Write(p[ihl : ihl+4])
		}
	}
	return uint32(h.Sum64())
}

// held is one packet waiting for its departure.
type held struct {
	data []byte
	due  time.Duration
	seq  uint64 // arrival order: equal departures leave in arrival order
}

// holdQueue is a direction's packets ordered by departure (a min-heap).
type holdQueue []held

func (q holdQueue) Len() int { return len(q) }
func (q holdQueue) Less(i, j int) bool {
	return q[i].due < q[j].due || q[i].due == q[j].due && q[i].seq < q[j].seq
}
func (q holdQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *holdQueue) Push(x any)   { *q = append(*q, x.(held)) }
func (q *holdQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = held{}
	*q = old[:len(old)-1]
	return x
}

func (q *holdQueue) push(h held) { heap.Push(q, h) }
func (q *holdQueue) pop() held   { return heap.Pop(q).(held) }
