package netns

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// The lab reconciles on every mutation of its cloud state (each API call, each solution
// step), and reinstalling a router namespace's routes, rules and filter costs four processes
// (`ip rule list`, the undo batch, the install batch, `nft`). A namespace whose program is
// the one installed last, and whose kernel state still has its shape, is left as it is.
// The record lives in the lab's directory, so every process reconciling the lab (they hold
// its reconcile lock) shares it; `lab down` removes it with the directory.

// programmed is what Program last installed in one router namespace.
type programmed struct {
	// Inode names the namespace instance: a namespace removed and added again is another.
	Inode uint64 `json:"inode"`
	// Sum is the sha256 of the install lines and the filter script.
	Sum string `json:"sum"`
	// Routes and Rules count, just after the install, the routes Program owns (protocol
	// boot, every table) and the region rules: a route the kernel dropped with its
	// interface, or one a BGP speaker replaced and then withdrew, changes the count.
	Routes int `json:"routes"`
	Rules  int `json:"rules"`
}

// programSum fingerprints a namespace's program.
func programSum(lines []string, filter string) string {
	h := sha256.New()
	h.Write([]byte(strings.Join(lines, "\n")))
	h.Write([]byte{0})
	h.Write([]byte(filter))
	return hex.EncodeToString(h.Sum(nil))
}

// programRecord is where the program of namespace ns of lab is recorded ("" without a lab).
func programRecord(lab, ns string) string {
	if lab == "" {
		return ""
	}
	return filepath.Join(LabDir(lab), "programmed", ns+".json")
}

// installedShape reads, without starting a process, the namespace instance and how many
// routes and region rules Program owns there.
func installedShape(ns string) (programmed, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(NamespacePath(ns), &st); err != nil {
		return programmed{}, err
	}
	shape := programmed{Inode: st.Ino}
	err := withNetlink(ns, func(nl *netlink.Handle) error {
		routes, err := nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: bootProtocol},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL) // table 0: every table
		if err != nil {
			return fmt.Errorf("list routes in %s: %w", ns, err)
		}
		rules, err := nl.RuleListFiltered(netlink.FAMILY_V4, &netlink.Rule{Priority: regionRulePref}, netlink.RT_FILTER_PRIORITY)
		if err != nil {
			return fmt.Errorf("list rules in %s: %w", ns, err)
		}
		shape.Routes, shape.Rules = len(routes), len(rules)
		return nil
	})
	return shape, err
}

// withNetlink calls fn with a netlink handle whose socket lives in namespace ns.
func withNetlink(ns string, fn func(*netlink.Handle) error) error {
	h, err := vnetns.GetFromPath(NamespacePath(ns))
	if err != nil {
		return err
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", ns, err)
	}
	defer nl.Close()
	return fn(nl)
}

// bootProtocol is the protocol `ip route` gives routes added without one.
const bootProtocol = 3

// unchanged reports whether ns holds the program sum, installed by Program, as it left it.
func unchanged(record, ns, sum string) bool {
	if record == "" {
		return false
	}
	data, err := os.ReadFile(record)
	if err != nil {
		return false
	}
	var was programmed
	if json.Unmarshal(data, &was) != nil || was.Sum != sum {
		return false
	}
	now, err := installedShape(ns)
	if err != nil {
		return false
	}
	now.Sum = sum
	return now == was
}

// forget removes ns's record before its program changes: an install that fails half way
// leaves no record, and the next Program installs again.
func forget(record string) {
	if record != "" {
		_ = os.Remove(record)
	}
}

// remember records the program sum just installed in ns. A record that cannot be written
// only costs the next Program an install.
func remember(record, ns, sum string) {
	if record == "" {
		return
	}
	now, err := installedShape(ns)
	if err != nil {
		return
	}
	now.Sum = sum
	data, _ := json.Marshal(now)
	if os.MkdirAll(filepath.Dir(record), 0o755) == nil {
		tmp := record + ".tmp"
		if os.WriteFile(tmp, data, 0o644) == nil {
			_ = os.Rename(tmp, record)
		}
	}
}

// LinkNames returns the names of the interfaces of namespace ns, read over netlink (no
// process: the lab asks at every reconcile).
func LinkNames(ns string) (map[string]bool, error) {
	have := map[string]bool{}
	err := withNetlink(ns, func(nl *netlink.Handle) error {
		ls, err := nl.LinkList()
		if err != nil {
			return fmt.Errorf("list links in %s: %w", ns, err)
		}
		for _, l := range ls {
			have[l.Attrs().Name] = true
		}
		return nil
	})
	return have, err
}
