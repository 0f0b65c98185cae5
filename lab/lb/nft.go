package lb

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	"reachgate/framework/netmodel"
)

// TableName is the nft table (family ip) that holds the LB's rules.
func TableName(name string) string { return "rg_lb_" + strings.ReplaceAll(name, "-", "_") }

// Rules renders an nft script that replaces the LB's table in one transaction: "add" then
// "delete" makes the delete succeed whether or not the table exists (nft 1.0.6 has no
// "destroy"). VIP:port is DNATed round-robin to backends (destination port unchanged,
// source unchanged); everything else addressed to the VIP, or all of it when there is no
// backend, is dropped silently, as GCP drops what no forwarding rule accepts.
//
// Only the prerouting hook is used: the LB serves traffic arriving at the router, not
// traffic originating in the router namespace (the health checks among it).
func Rules(s Spec, backends []string) string {
	t := TableName(s.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "add table ip %s\ndelete table ip %s\n", t, t)
	fmt.Fprintf(&b, "table ip %s {\n", t)
	b.WriteString("\tchain prerouting {\n")
	b.WriteString("\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	if len(backends) > 0 {
		fmt.Fprintf(&b, "\t\tip daddr %s %stcp dport %s dnat to %s\n", s.VIP, admitMatch(s.Admit), portMatch(s.Ports), target(backends))
	}
	fmt.Fprintf(&b, "\t\tip daddr %s drop\n", s.VIP)
	b.WriteString("\t}\n")
	if s.SNAT != "" && len(backends) > 0 {
		b.WriteString("\tchain postrouting {\n")
		b.WriteString("\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
		fmt.Fprintf(&b, "\t\tct original ip daddr %s snat to %s\n", s.VIP, s.SNAT)
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// admitMatch is the client source match, with a trailing space; "" admits every client.
func admitMatch(admit []string) string {
	if len(admit) == 0 {
		return ""
	}
	ps := make([]netip.Prefix, len(admit))
	for i, a := range admit {
		ps[i] = netip.MustParsePrefix(a) // Validate checked them
	}
	keep := make([]string, 0, len(ps))
	for _, p := range netmodel.Outermost(ps) {
		keep = append(keep, p.String())
	}
	return "ip saddr { " + strings.Join(keep, ", ") + " } "
}

func portMatch(ports []int) string {
	if len(ports) == 1 {
		return strconv.Itoa(ports[0])
	}
	ps := make([]string, len(ports))
	for i, p := range ports {
		ps[i] = strconv.Itoa(p)
	}
	return "{ " + strings.Join(ps, ", ") + " }"
}

// target is one address, or a numgen map that takes turns (per new connection).
func target(backends []string) string {
	if len(backends) == 1 {
		return backends[0]
	}
	elems := make([]string, len(backends))
	for i, a := range backends {
		elems[i] = fmt.Sprintf("%d : %s", i, a)
	}
	return fmt.Sprintf("numgen inc mod %d map { %s }", len(backends), strings.Join(elems, ", "))
}

// Apply installs (or atomically replaces) the LB's table in the current network namespace;
// the caller runs inside the VPC router namespace.
func Apply(ctx context.Context, s Spec, backends []string) error {
	if err := nft(ctx, Rules(s, backends)); err != nil {
		return fmt.Errorf("apply load balancer %s: %w", s.Name, err)
	}
	return nil
}

// Remove deletes the LB's table from the current network namespace; a missing table is
// not an error.
func Remove(ctx context.Context, name string) error {
	t := TableName(name)
	if err := nft(ctx, fmt.Sprintf("add table ip %s\ndelete table ip %s\n", t, t)); err != nil {
		return fmt.Errorf("remove load balancer %s: %w", name, err)
	}
	return nil
}

// nft runs a script with `nft -f -`; the error carries the command and nft's message.
func nft(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft -f -: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}
