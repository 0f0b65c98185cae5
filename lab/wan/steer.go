package wan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"reachgate/lab/netns"
)

// TUN device names of the element on interface ifname: packets that arrived on the
// interface pass through TunIn, packets leaving through it pass through TunOut.
func TunIn(ifname string) string  { return "wi-" + ifname }
func TunOut(ifname string) string { return "we-" + ifname }

// Link names the impaired end of a link: a veth in a (router) namespace. The element runs
// entirely in that namespace; the other end is untouched.
type Link struct {
	Namespace string // e.g. "rg-lab1-vpc-onprem"
	Interface string // e.g. "l0"
}

func (l Link) String() string { return l.Namespace + "/" + l.Interface }

// Routing numbers. The ingress and egress rules sit before the "local" lookup so that
// packets for the namespace's own addresses (a BGP session over the link) are delayed too;
// Steer moves "local" from preference 0 to LocalPref, and the last Unsteer moves it back.
// LocalPref sits right after the element's rules and before every other rule of the lab
// (its regional tables use 150): only the element's marked packets skip "local". With
// "local" later, a regional table's blackhole for its own subnet answered the kernel's
// route lookup for an ARP request to the router's gateway address, and hosts lost their
// gateway once their neighbour entry expired.
const (
	PrefIn    = 100
	PrefOut   = 101
	LocalPref = 102
	tableBase = 0x52470000 // + 2×ifindex (in), +1 (out)
	markMask  = 0xffff0000 // the egress mark is ifindex<<16 under this mask
)

// numbers are one link's routing table and mark, derived from the interface index, which
// is unique within the namespace.
type numbers struct {
	ifindex                 int
	mtu                     int
	tableIn, tableOut       int
	mark                    uint32
	nftTable, tunIn, tunOut string
}

func (l Link) numbers(ctx context.Context) (numbers, error) {
	out, err := run(ctx, "", "ip", "-n", l.Namespace, "-j", "link", "show", "dev", l.Interface)
	if err != nil {
		return numbers{}, fmt.Errorf("find interface %s: %w", l, err)
	}
	var links []struct {
		Ifindex int `json:"ifindex"`
		MTU     int `json:"mtu"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		return numbers{}, fmt.Errorf("find interface %s: unexpected output of ip -j link: %q", l, out)
	}
	idx := links[0].Ifindex
	if idx <= 0 || idx > 0xffff {
		return numbers{}, fmt.Errorf("interface %s has index %d; the element needs an index below 65536 for its mark", l, idx)
	}
	return numbers{ifindex: idx, mtu: links[0].MTU, tableIn: tableBase + 2*idx, tableOut: tableBase + 2*idx + 1,
		mark: uint32(idx) << 16, nftTable: "rg_wan_" + strings.NewReplacer("-", "_", ".", "_").Replace(l.Interface),
		tunIn: TunIn(l.Interface), tunOut: TunOut(l.Interface)}, nil
}

// Prepare creates the element's two persistent TUN devices (its daemon attaches to them),
// idempotently. Nothing is steered through them yet.
func Prepare(ctx context.Context, l Link) error {
	if err := (Spec{Interface: l.Interface}).Validate(); err != nil {
		return fmt.Errorf("prepare wan element on %s: %w", l, err)
	}
	n, err := l.numbers(ctx)
	if err != nil {
		return err
	}
	b := []string{}
	for _, dev := range []string{n.tunIn, n.tunOut} {
		if !linkExists(ctx, l.Namespace, dev) {
			b = append(b, "tuntap add dev "+dev+" mode tun")
		}
		b = append(b, fmt.Sprintf("link set dev %s mtu %d up", dev, n.mtu))
	}
	if err := ipBatch(ctx, l.Namespace, b...); err != nil {
		return fmt.Errorf("prepare wan element on %s: %w", l, err)
	}
	sysctls := [][2]string{
		// Egress packets may carry the namespace's own source address (locally sent) when
		// they come back from the TUN device; they are forwarded on from it.
		{"net/ipv4/conf/" + n.tunOut + "/accept_local", "1"},
		{"net/ipv4/conf/" + n.tunOut + "/forwarding", "1"},
		{"net/ipv4/conf/" + n.tunOut + "/rp_filter", "0"},
		{"net/ipv4/conf/" + n.tunIn + "/rp_filter", "0"},
		{"net/ipv6/conf/" + n.tunIn + "/disable_ipv6", "1"},
		{"net/ipv6/conf/" + n.tunOut + "/disable_ipv6", "1"},
	}
	for _, kv := range sysctls {
		if err := netns.WriteSysctl(l.Namespace, kv[0], kv[1]); err != nil && !strings.Contains(kv[0], "ipv6") {
			return fmt.Errorf("prepare wan element on %s: set %s: %w", l, kv[0], err)
		}
	}
	return nil
}

// Attached reports whether a daemon serves both TUN devices (their carrier is up).
func Attached(ctx context.Context, l Link) bool {
	for _, dev := range []string{TunIn(l.Interface), TunOut(l.Interface)} {
		out, err := run(ctx, "", "ip", "-n", l.Namespace, "-j", "link", "show", "dev", dev)
		if err != nil || !strings.Contains(out, `"LOWER_UP"`) {
			return false
		}
	}
	return true
}

// Steer sends the link's traffic through the element: packets arriving on the interface
// (iif rule) and packets about to leave through it (nft marks them, fwmark rule), and
// shapes both directions with tbf when imp.Rate is set. Run it once the daemon is
// attached: until then the TUN devices drop what they get. It replaces an earlier Steer.
func Steer(ctx context.Context, l Link, imp Impairment) error {
	n, err := l.numbers(ctx)
	if err != nil {
		return err
	}
	fwd, err := readSysctl(l.Namespace, "net/ipv4/conf/"+l.Interface+"/forwarding")
	if err != nil {
		return fmt.Errorf("steer %s: %w", l, err)
	}
	if fwd != "1" {
		return fmt.Errorf("steer %s: forwarding is off on %s; the element runs on router namespaces: enable it with 'ip netns exec %s sysctl -w net.ipv4.ip_forward=1'", l, l.Interface, l.Namespace)
	}
	_ = unsteerRules(ctx, l, n) // idempotent: replace what an earlier Steer installed
	b := []string{
		fmt.Sprintf("route replace default dev %s table %d", n.tunIn, n.tableIn),
		fmt.Sprintf("route replace default dev %s table %d", n.tunOut, n.tableOut),
	}
	rules, err := run(ctx, "", "ip", "-n", l.Namespace, "rule", "show", "pref", "0")
	if err != nil {
		return fmt.Errorf("steer %s: %w", l, err)
	}
	if strings.Contains(rules, "lookup local") {
		b = append(b, fmt.Sprintf("rule add pref %d lookup local", LocalPref), "rule del pref 0 lookup local")
	}
	b = append(b,
		fmt.Sprintf("rule add pref %d iif %s fwmark %#x/%#x lookup %d", PrefIn, l.Interface, n.mark, uint32(markMask), n.tableIn),
		fmt.Sprintf("rule add pref %d fwmark %#x/%#x lookup %d", PrefOut, n.mark, uint32(markMask), n.tableOut))
	if err := ipBatch(ctx, l.Namespace, b...); err != nil {
		return fmt.Errorf("steer %s: %w", l, err)
	}
	if _, err := run(ctx, nftRules(l.Interface, n), "ip", "netns", "exec", l.Namespace, "nft", "-f", "-"); err != nil {
		if !strings.Contains(err.Error(), "Operation not permitted") {
			return fmt.Errorf("steer %s: load nft table %s: %w", l, n.nftTable, err)
		}
		// In a user namespace (the rootless lab) the kernel refuses to rewrite packet
		// headers (ip ttl set): TTL-1 packets for the namespace itself (eBGP) then skip the
		// element on their way in instead.
		if _, err2 := run(ctx, nftRulesFor(l.Interface, n, false), "ip", "netns", "exec", l.Namespace, "nft", "-f", "-"); err2 != nil {
			return fmt.Errorf("steer %s: load nft table %s: %w", l, n.nftTable, errors.Join(err, err2))
		}
	}
	return shape(ctx, l, n, imp.Rate)
}

// nftRules marks packets leaving through the interface (forwarded ones by a FIB lookup in
// prerouting, local ones after their route lookup in output) so the fwmark rule routes
// them to the egress TUN device instead. IPv4 packets arriving on the interface get the
// same mark, and the ingress rule matches the interface *and* the mark: the kernel's ARP
// code looks up the route to a request's target address with the interface as input but
// without a mark, so that lookup still finds the namespace's own address and ARP is
// answered (an iif-only rule sent it to the TUN device: no ARP reply, and the neighbour's
// cache entry expired into seconds-long stalls). The first pass of every impaired packet
// is not conntracked: conntrack, NAT and filters see each packet once, as it comes back
// from a TUN device. A TTL-1 packet for the namespace itself survives the extra forward.
func nftRules(ifname string, n numbers) string { return nftRulesFor(ifname, n, true) }

// nftRulesFor is nftRules; without mangle a TTL-1 packet for the namespace itself is not
// steered at all (accepted before the mark) rather than having its TTL raised.
func nftRulesFor(ifname string, n numbers, mangle bool) string {
	mark := fmt.Sprintf("meta mark set meta mark & %#08x | %#08x", ^uint32(markMask), n.mark)
	ttl := "ip ttl set 2"
	if !mangle {
		ttl = "accept"
	}
	return fmt.Sprintf(`table ip %[1]s
delete table ip %[1]s
table ip %[1]s {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		iifname "%[2]s" ip ttl 1 fib daddr type local %[5]s
		iifname "%[2]s" %[4]s notrack
		iifname != { "%[2]s", "%[3]s" } fib daddr oifname "%[2]s" %[4]s notrack
	}
	chain out {
		type route hook output priority raw; policy accept;
		oifname "%[2]s" %[4]s notrack
	}
}
`, n.nftTable, ifname, n.tunOut, mark, ttl)
}

// shape installs tbf on the interface (egress) and on the ingress TUN device (what
// arrived on the interface), or removes the element's tbf when rate is 0.
func shape(ctx context.Context, l Link, n numbers, rate uint64) error {
	for _, dev := range []string{l.Interface, n.tunIn} {
		if rate == 0 {
			if isTBF(ctx, l.Namespace, dev) {
				if _, err := run(ctx, "", "tc", "-n", l.Namespace, "qdisc", "del", "dev", dev, "root"); err != nil {
					return fmt.Errorf("remove rate limit on %s/%s: %w", l.Namespace, dev, err)
				}
			}
			continue
		}
		// Burst: 10 ms of traffic, at least 32 KiB so a GSO packet passes whole.
		burst := max(rate/8/100, 32*1024)
		if _, err := run(ctx, "", "tc", "-n", l.Namespace, "qdisc", "replace", "dev", dev, "root", "tbf",
			"rate", strconv.FormatUint(rate, 10)+"bit", "burst", strconv.FormatUint(burst, 10), "latency", "100ms"); err != nil {
			return fmt.Errorf("rate-limit %s/%s: %w", l.Namespace, dev, err)
		}
	}
	return nil
}

func isTBF(ctx context.Context, ns, dev string) bool {
	out, err := run(ctx, "", "tc", "-n", ns, "qdisc", "show", "dev", dev, "root")
	return err == nil && strings.Contains(out, "qdisc tbf ")
}

// Unsteer undoes Steer: the link carries traffic directly again. Missing pieces are not
// errors, so it also cleans up after a partial Steer.
func Unsteer(ctx context.Context, l Link) error {
	n, err := l.numbers(ctx)
	if err != nil {
		return err
	}
	errs := []error{unsteerRules(ctx, l, n)}
	if rules, err := run(ctx, "", "ip", "-n", l.Namespace, "rule", "show"); err == nil &&
		!ownRules(rules) && hasRule(rules, LocalPref, "lookup local") {
		// The last element of the namespace is gone: "local" goes back to preference 0.
		errs = append(errs, ipBatch(ctx, l.Namespace, "rule add pref 0 lookup local", fmt.Sprintf("rule del pref %d lookup local", LocalPref)))
	}
	errs = append(errs, shape(ctx, l, n, 0))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unsteer %s: %w", l, err)
	}
	return nil
}

// ownRules reports whether any element's rule is still installed.
func ownRules(rules string) bool {
	return hasRule(rules, PrefIn, "") || hasRule(rules, PrefOut, "")
}

// hasRule reports whether `ip rule show` output has a rule at pref containing what.
func hasRule(rules string, pref int, what string) bool {
	for _, line := range strings.Split(rules, "\n") {
		if strings.HasPrefix(line, strconv.Itoa(pref)+":") && strings.Contains(line, what) {
			return true
		}
	}
	return false
}

func unsteerRules(ctx context.Context, l Link, n numbers) error {
	var errs []error
	// The rules first, then the tables they pointed at: traffic never meets an empty table.
	for _, r := range []string{
		fmt.Sprintf("pref %d iif %s fwmark %#x/%#x lookup %d", PrefIn, l.Interface, n.mark, uint32(markMask), n.tableIn),
		fmt.Sprintf("pref %d iif %s lookup %d", PrefIn, l.Interface, n.tableIn), // an element of an earlier release
		fmt.Sprintf("pref %d fwmark %#x/%#x lookup %d", PrefOut, n.mark, uint32(markMask), n.tableOut),
	} {
		for ipBatch(ctx, l.Namespace, "rule del "+r) == nil {
		}
	}
	if _, err := run(ctx, fmt.Sprintf("table ip %[1]s\ndelete table ip %[1]s\n", n.nftTable), "ip", "netns", "exec", l.Namespace, "nft", "-f", "-"); err != nil {
		errs = append(errs, fmt.Errorf("delete nft table %s: %w", n.nftTable, err))
	}
	for _, t := range []int{n.tableIn, n.tableOut} {
		_ = ipBatch(ctx, l.Namespace, fmt.Sprintf("route flush table %d", t))
	}
	return errors.Join(errs...)
}

// Destroy deletes the element's TUN devices; run it after the daemon stopped.
func Destroy(ctx context.Context, l Link) error {
	var errs []error
	for _, dev := range []string{TunIn(l.Interface), TunOut(l.Interface)} {
		if linkExists(ctx, l.Namespace, dev) {
			if err := ipBatch(ctx, l.Namespace, "link del dev "+dev); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy wan element on %s: %w", l, err)
	}
	return nil
}

func linkExists(ctx context.Context, ns, dev string) bool {
	_, err := run(ctx, "", "ip", "-n", ns, "link", "show", "dev", dev)
	return err == nil
}

func readSysctl(ns, key string) (string, error) {
	var v []byte
	err := netns.Do(ns, func() error {
		var err error
		v, err = os.ReadFile("/proc/sys/" + key)
		return err
	})
	return strings.TrimSpace(string(v)), err
}

func ipBatch(ctx context.Context, ns string, lines ...string) error {
	if len(lines) == 0 {
		return nil
	}
	_, err := run(ctx, strings.Join(lines, "\n")+"\n", "ip", "-n", ns, "-batch", "-")
	return err
}

// run executes a command and returns its combined output; a failure is a *netns.CommandError.
func run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), &netns.CommandError{Args: args, Output: out.String(), Err: err}
	}
	return out.String(), nil
}
