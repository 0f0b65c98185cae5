// Package wan emulates a WAN link (delay, jitter, loss, rate) on one end of a lab link,
// since this kernel has no netem. It impairs every packet crossing the veth interface X of
// a router namespace, in both directions, without touching the other end:
//
//	arriving on X ──nft prerouting: mark ifindex<<16 ──ip rule iif X fwmark (pref 100)
//	   → table 0x52470000+2·ifindex: default dev wi-X ─────────────────────────────────────┐
//	                                                                                         │
//	   ┌─────────────── `reachgate wan --spec F` in the namespace ───────────────────────────┘
//	   │  reader: timestamp, lose Loss %, due = max(now+Delay±Jitter, previous due)
//	   │  FIFO per direction → writer: clock_nanosleep to due, TTL+1, write back to wi-X
//	   └──→ arrives from wi-X → main table as before (forwarded, or delivered locally)
//
//	leaving by X (forwarded: nft prerouting `fib daddr oifname X`; local: nft output
//	`oifname X`) → mark ifindex<<16 → ip rule fwmark (pref 101) → table …+1: default dev
//	we-X → same daemon, other direction → written back to we-X → main table → out of X
//
// So a round trip over the link gains 2×Delay. Details that keep the namespace's
// behaviour otherwise unchanged:
//   - The iif rule sits before the "local" lookup (moved from preference 0 to 102 while
//     any element is installed), so traffic to the router's own addresses is delayed too.
//     It matches the mark as well as X: the kernel's ARP code looks up the route to a
//     request's target with X as input but no mark, and must still find the address local
//     to answer. Every other rule of the namespace stays after "local", as before.
//   - The first pass of each impaired packet is not conntracked (nft notrack): conntrack,
//     NAT and filters see each packet once, when it comes back from a TUN device.
//   - The kernel forwards each impaired packet twice; the daemon adds 1 to the TTL so hop
//     counts and TTL-1 protocols (eBGP) are unchanged.
//   - Jitter never reorders: a packet that drew a shorter hold leaves right after the one
//     before it (see schedule). TCP over a real WAN path sees no reordering either.
//   - Rate is tbf on X (egress) and on wi-X (what arrived on X): both directions.
//   - An element whose daemon died drops the link's traffic (the TUN devices stay without
//     a reader), as a failed WAN link would; Remove restores direct forwarding.
//
// IPv4 only (the lab's transit links are IPv4). Each link of a namespace can have its own
// element; by construction a packet crossing two impaired links gets both impairments
// (the tests cover one link).
//
// Use: Apply (spec file, TUN devices, daemon started through a Starter that records it,
// routing) and Remove; or the steps Prepare, start Command(...), wait for Attached, Steer,
// and Unsteer, stop, Destroy. Update changes a running element. SelfCheck and `reachgate
// wan selfcheck` measure the profiles on a throw-away three-namespace chain.
package wan
