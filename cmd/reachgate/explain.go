package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"reachgate/framework/netmodel"
	"reachgate/framework/topology"
	"reachgate/lab"
	"reachgate/lab/netns"
)

// explainView is `lab explain --json`.
type explainView struct {
	From    string         `json:"from"`
	To      string         `json:"to"`
	Verdict string         `json:"verdict"`
	Trace   netmodel.Trace `json:"trace"`
	Micros  int64          `json:"computedMicroseconds"` // routes computed and traced
	Source  string         `json:"topology"`
}

func newLabExplainCommand() *cobra.Command {
	var name, file, from, to, proto string
	var asJSON bool
	c := &cobra.Command{
		Use:   "explain --from HOST --to IP[:PORT]",
		Short: "Say from the network model whether a host reaches an address, hop by hop both ways, and why not",
		Long: "Reads the running lab's topology (or --topology FILE, no lab or root needed) and walks the\n" +
			"forward and the return path through the VPCs' effective routes. With a port, the destination's\n" +
			"ingress firewall rules and the control plane's authorized networks judge the flow too (replies\n" +
			"pass: GCP firewalls are stateful). Exits 1 when unreachable.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, l, source, err := explainTopology(name, file)
			if err != nil {
				return err
			}
			h := t.Host(from)
			if h == nil {
				return fmt.Errorf("--from %q: no such host in %s", from, source)
			}
			if strings.HasSuffix(strings.TrimSuffix(to, "."), ".gke.goog") {
				return explainDNSEndpoint(t, l, source, from, to, asJSON)
			}
			host, flow := to, netmodel.Flow{}
			if hh, port, err := net.SplitHostPort(to); err == nil {
				host = hh
				if flow, err = netmodel.ParseFlow(proto + ":" + port); err != nil {
					return fmt.Errorf("--to %q: %w", to, err)
				}
			}
			dst, err := netip.ParseAddr(host)
			if err != nil {
				if dh := t.Host(to); dh != nil {
					dst = dh.IP
				} else {
					return fmt.Errorf("--to %q: give an IP, IP:PORT or a host name", to)
				}
			}
			start := time.Now()
			var tr netmodel.Trace
			if l != nil && flow.Proto != "udp" {
				// A running lab also knows its internal load balancers.
				tr, err = l.Explain(from, netip.AddrPortFrom(dst, flow.Port))
			} else {
				var m *netmodel.Model
				if m, err = netmodel.Compute(t.Active(nil)); err == nil {
					tr = m.TraceFlow(h.IP, dst, flow)
				}
			}
			if err != nil {
				return err
			}
			v := explainView{From: from, To: to, Trace: tr, Micros: time.Since(start).Microseconds(), Source: source, Verdict: "unreachable"}
			if tr.Reachable {
				v.Verdict = "reachable"
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(v); err != nil {
					return err
				}
			} else {
				fmt.Printf("%s -> %s: %s\n", from, to, v.Verdict)
				printPath("forward", tr.Forward)
				printPath("return", tr.Return)
				if a := tr.Admission; a != nil && a.Allowed && a.Rule != "" {
					fmt.Printf("admitted by: %s\n", a.Rule)
				}
				fmt.Printf("why: %s\n", tr.Reason)
			}
			if !tr.Reachable {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the only lab)")
	c.Flags().StringVarP(&file, "topology", "f", "", "explain on this topology file instead of a running lab")
	c.Flags().StringVar(&from, "from", "", "source host")
	c.Flags().StringVar(&to, "to", "", "destination IP, IP:PORT or host")
	c.Flags().StringVar(&proto, "proto", "tcp", "protocol of the flow when --to has a port: tcp or udp")
	c.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	_ = c.MarkFlagRequired("from")
	_ = c.MarkFlagRequired("to")
	return c
}

// explainDNSEndpoint is `lab explain --to <the cluster's gke.goog name>`.
func explainDNSEndpoint(t *topology.Topology, l *lab.Lab, source, from, to string, asJSON bool) error {
	if t.Cluster == nil || t.Cluster.DNS == nil || !strings.EqualFold(strings.TrimSuffix(to, "."), t.Cluster.DNS.Name) {
		name := "none: the cluster has no DNS-based endpoint"
		if t.Cluster != nil && t.Cluster.DNS != nil {
			name = t.Cluster.DNS.Name
		}
		return fmt.Errorf("--to %q: not the cluster's DNS-based endpoint in %s (it is %s)", to, source, name)
	}
	var v netmodel.DNSEndpointVerdict
	if l != nil {
		var err error
		if v, err = l.ExplainDNSEndpoint(from); err != nil {
			return err
		}
	} else {
		m, err := netmodel.Compute(t.Active(nil))
		if err != nil {
			return err
		}
		// A topology file alone: its resolvers are empty until a solution maps the name.
		h := t.Host(from)
		_, hasResolver := t.ResolverAddr(h.VPC)
		v = m.ExplainDNSEndpoint(h.IP, netmodel.DNSEndpointState{Mapped: !hasResolver, AllowExternalTraffic: t.Cluster.DNS.AllowExternalTraffic})
	}
	v.Trace.Reason = v.Reason
	verdict := "unreachable"
	if v.Reachable {
		verdict = "reachable"
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(explainView{From: from, To: to, Trace: v.Trace, Source: source, Verdict: verdict}); err != nil {
			return err
		}
	} else {
		fmt.Printf("%s -> %s (DNS-based endpoint): %s\n", from, to, verdict)
		printPath("forward", v.Trace.Forward)
		printPath("return", v.Trace.Return)
		fmt.Printf("why: %s\n", v.Reason)
	}
	if !v.Reachable {
		return exitError{1}
	}
	return nil
}

// explainTopology reads --topology FILE, or opens the running lab (then also returned).
func explainTopology(name, file string) (*topology.Topology, *lab.Lab, string, error) {
	if file != "" {
		t, err := topology.ParseFile(file)
		return t, nil, file, err
	}
	n, err := resolveName(name)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w (or pass --topology FILE)", err)
	}
	l, err := lab.Open(n)
	if err != nil {
		return nil, nil, "", err
	}
	return l.Topology, l, netns.LabDir(n) + "/topology.yaml", nil
}

func printPath(label string, p netmodel.Path) {
	fmt.Printf("%s:\n", label)
	for _, h := range p.Hops {
		route := "no route"
		if h.Route != nil {
			route = fmt.Sprintf("%s %s", h.Route.Prefix, h.Route.Type)
			if h.Route.Link != "" {
				route += " via " + h.Route.Link + " to " + h.Route.NextHopVPC
			}
		}
		region := ""
		if h.Region != "" {
			region = " (" + h.Region + ")"
		}
		fmt.Printf("  %s%s: %s\n", h.VPC, region, route)
	}
	switch {
	case p.Delivered:
		fmt.Println("  delivered")
	case p.Blocked != "":
		fmt.Printf("  blocked: %s\n", p.Blocked)
	}
}
