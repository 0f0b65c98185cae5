package netmodel

import (
	"net/netip"
	"strings"
	"testing"

	"reachgate/framework/topology"
)

// seedCluster is seedLike with its GKE cluster, node role and firewall rules on the gke VPC.
func seedCluster(rules ...*topology.Rule) *topology.Topology {
	tp := seedLike()
	tp.Host("gke-node-gq92").Role = topology.RoleNode
	tp.Host("master").Role = topology.RoleControlPlane
	tp.Network("gke").Firewall = rules
	tp.Cluster = &topology.GKECluster{Name: "private-cluster", VPC: "gke", Subnet: "default",
		NodeRange: pfx("10.128.0.0/20"), PodRange: pfx("10.36.0.0/14"), ServiceRange: pfx("10.40.0.0/20"),
		MasterVPC: "gke-master", MasterCIDR: pfx("192.168.32.32/28"), PrivateEndpoint: ip("192.168.32.34"),
		ControlPlane: "master", Nodes: []string{"gke-node-gq92"}}
	return tp
}

// rule builds a firewall rule; ports like "tcp:22", "all".
func rule(name string, deny bool, prio int, src string, ports ...string) *topology.Rule {
	out := &topology.Rule{Name: name, Deny: deny, Priority: prio, Sources: []netip.Prefix{pfx(src)}}
	if len(ports) == 0 {
		ports = []string{"all"}
	}
	for _, p := range ports {
		pr, msg := topology.ParsePortRange(p)
		if msg != "" {
			panic(msg)
		}
		out.Ports = append(out.Ports, pr)
	}
	return out
}

func tagged(r *topology.Rule, tags ...string) *topology.Rule { r.TargetTags = tags; return r }

func TestAdmission(t *testing.T) {
	t.Parallel()
	const (
		tpVM   = "172.31.23.209"
		node   = "10.128.0.3"
		pod    = "10.36.0.7" // in the node's alias range (first /24 of the pod range)
		jump   = "10.156.0.8"
		master = "192.168.32.34"
	)
	ssh := Flow{Proto: "tcp", Port: 22}
	https := Flow{Proto: "tcp", Port: 443}
	authorized := func(blocks ...string) *topology.Topology {
		tp := seedCluster(rule("allow-internal", false, 1000, "10.128.0.0/9"))
		tp.Cluster.Authorized = &topology.Authorized{PrivateEndpointEnforcement: true}
		for _, b := range blocks {
			tp.Cluster.Authorized.CIDRBlocks = append(tp.Cluster.Authorized.CIDRBlocks, pfx(b))
		}
		return tp
	}
	tests := []struct {
		name     string
		tp       *topology.Topology
		src, dst string
		flow     Flow
		allowed  bool
		rule     string // deciding rule
		reason   string // substring of the reason when refused
	}{
		// GCP: every VPC has an implied deny-ingress rule (priority 65535).
		{name: "no rules: implied deny ingress", tp: seedCluster(), src: tpVM, dst: node, flow: ssh,
			rule: "implied-deny-ingress", reason: "implied deny-ingress rule (priority 65535)"},
		// GCP: an allow rule whose source range and port match admits the packet.
		{name: "allow rule matches", tp: seedCluster(rule("allow-ssh", false, 1000, "172.31.0.0/16", "tcp:22")),
			src: tpVM, dst: node, flow: ssh, allowed: true, rule: "allow-ssh"},
		// GCP: a rule's ports limit it; other ports fall to the implied deny.
		{name: "allow rule for another port", tp: seedCluster(rule("allow-ssh", false, 1000, "172.31.0.0/16", "tcp:22")),
			src: tpVM, dst: node, flow: https, rule: "implied-deny-ingress"},
		// GCP: port ranges match every port inside them.
		{name: "port range", tp: seedCluster(rule("allow-np", false, 1000, "172.31.0.0/16", "tcp:30000-32767")),
			src: tpVM, dst: node, flow: Flow{Proto: "tcp", Port: 30080}, allowed: true, rule: "allow-np"},
		// GCP: a protocol without ports matches all its ports, and only that protocol.
		{name: "protocol without ports", tp: seedCluster(rule("allow-udp", false, 1000, "172.31.0.0/16", "udp")),
			src: tpVM, dst: node, flow: ssh, rule: "implied-deny-ingress"},
		// GCP: a rule matches only its source ranges.
		{name: "source outside the rule", tp: seedCluster(rule("allow-hub", false, 1000, "10.10.0.0/20", "tcp:22")),
			src: tpVM, dst: node, flow: ssh, rule: "implied-deny-ingress"},
		// GCP: the lower priority number wins: a deny at 900 beats an allow at 1000.
		{name: "deny with higher priority wins", tp: seedCluster(
			rule("allow-ssh", false, 1000, "172.31.0.0/16", "tcp:22"), rule("deny-tp", true, 900, "172.31.0.0/16")),
			src: tpVM, dst: node, flow: ssh, rule: "deny-tp", reason: "firewall rule deny-tp of vpc gke (deny, priority 900"},
		// GCP: an allow at a higher priority beats a deny at a lower one.
		{name: "allow with higher priority wins", tp: seedCluster(
			rule("allow-ssh", false, 500, "172.31.0.0/16", "tcp:22"), rule("deny-tp", true, 900, "172.31.0.0/16")),
			src: tpVM, dst: node, flow: ssh, allowed: true, rule: "allow-ssh"},
		// GCP: at equal priority a deny rule takes precedence over an allow rule.
		{name: "equal priority: deny wins", tp: seedCluster(
			rule("allow-ssh", false, 1000, "172.31.0.0/16", "tcp:22"), rule("deny-tp", true, 1000, "172.31.0.0/16")),
			src: tpVM, dst: node, flow: ssh, rule: "deny-tp", reason: "denies"},
		// GCP: target tags limit a rule to instances carrying one of them.
		{name: "target tag not on the instance", tp: seedCluster(tagged(rule("allow-web", false, 1000, "172.31.0.0/16"), "web")),
			src: tpVM, dst: jump, flow: ssh, rule: "implied-deny-ingress"},
		// GKE: gke-<cluster>-all admits the pod range to the nodes on every protocol.
		{name: "GKE rule: pods to nodes", tp: seedCluster(), src: pod, dst: node, flow: Flow{Proto: "tcp", Port: 8443},
			allowed: true, rule: "gke-private-cluster-all"},
		// GKE: gke-<cluster>-master admits the control plane to the kubelets (tcp 10250).
		{name: "GKE rule: master to kubelet", tp: seedCluster(), src: master, dst: node, flow: Flow{Proto: "tcp", Port: 10250},
			allowed: true, rule: "gke-private-cluster-master"},
		// GKE: its rules target the cluster's nodes only, not other VMs of the VPC.
		{name: "GKE rules target nodes only", tp: seedCluster(), src: pod, dst: jump, flow: ssh, rule: "implied-deny-ingress"},
		// GCP: a pod address (alias IP) is protected by its node's firewall rules.
		{name: "pod address uses its node's rules", tp: seedCluster(rule("allow-ssh", false, 1000, "172.31.0.0/16", "tcp:22")),
			src: tpVM, dst: pod, flow: ssh, allowed: true, rule: "allow-ssh"},
		// GCP: the Google-owned master VPC has no customer firewall; without authorized
		// networks the private endpoint admits whatever reaches it.
		{name: "master VPC: no firewall", tp: seedCluster(), src: jump, dst: master, flow: https, allowed: true},
		// GKE: with private endpoint enforcement only listed ranges reach the private endpoint.
		{name: "authorized networks: source not listed", tp: authorized("172.31.0.0/16"), src: jump, dst: master, flow: https,
			rule: "authorized-networks", reason: "not in the master authorized networks"},
		// GKE: a listed range is admitted.
		{name: "authorized networks: source listed", tp: authorized("10.156.0.0/20"), src: jump, dst: master, flow: https,
			allowed: true, rule: "authorized-networks"},
		// GKE: the cluster's node range may always reach the control plane.
		{name: "authorized networks: node range always allowed", tp: authorized(), src: node, dst: master, flow: https,
			allowed: true, rule: "authorized-networks"},
		// GKE: the cluster's pod range may always reach the control plane.
		{name: "authorized networks: pod range always allowed", tp: authorized(), src: pod, dst: master, flow: https,
			allowed: true, rule: "authorized-networks"},
		// GKE: without privateEndpointEnforcement the list guards the public endpoint only.
		{name: "authorized networks without enforcement", tp: func() *topology.Topology {
			tp := authorized()
			tp.Cluster.Authorized.PrivateEndpointEnforcement = false
			return tp
		}(), src: jump, dst: master, flow: https, allowed: true},
		// GCP: other clouds' security groups are not modelled: no GCP firewall there.
		{name: "third-party VPC has no GCP firewall", tp: seedCluster(), src: node, dst: tpVM, flow: ssh, allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompute(t, tt.tp)
			a := m.Admit(ip(tt.src), ip(tt.dst), tt.flow)
			if a.Allowed != tt.allowed || a.Rule != tt.rule {
				t.Fatalf("Admit(%s -> %s %s) = allowed %v by %q; want %v by %q (%s)", tt.src, tt.dst, tt.flow, a.Allowed, a.Rule, tt.allowed, tt.rule, a.Reason)
			}
			if !tt.allowed && !strings.Contains(a.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", a.Reason, tt.reason)
			}
		})
	}
}

// TraceFlow refuses a routed flow the destination does not admit, and names the rule; the
// return path needs no admission (GCP firewalls are stateful).
func TestTraceFlowAdmission(t *testing.T) {
	t.Parallel()
	m := mustCompute(t, seedCluster(rule("allow-ssh", false, 1000, "172.31.0.0/16", "tcp:22")))
	ok := m.TraceFlow(ip("172.31.23.209"), ip("10.128.0.3"), Flow{Proto: "tcp", Port: 22})
	if !ok.Reachable || ok.Admission == nil || ok.Admission.Rule != "allow-ssh" {
		t.Fatalf("ssh: %+v", ok)
	}
	no := m.TraceFlow(ip("172.31.23.209"), ip("10.128.0.3"), Flow{Proto: "tcp", Port: 443})
	if no.Reachable || no.Forward.Delivered || !strings.Contains(no.Reason, "implied deny-ingress") || !no.Return.Delivered {
		t.Fatalf("https: reachable=%v forward=%v return=%v reason %q", no.Reachable, no.Forward.Delivered, no.Return.Delivered, no.Reason)
	}
	// Routing failures come first: the baseline is unreachable for its routes, not a rule.
	base := m.TraceFlow(ip("172.31.23.209"), ip("192.168.32.34"), Flow{Proto: "tcp", Port: 443})
	if base.Reachable || base.Admission != nil || !strings.Contains(base.Reason, "not transitive") {
		t.Fatalf("baseline: %+v", base)
	}
}

func TestParseFlow(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Flow{"tcp:443": {"tcp", 443}, "udp:53": {"udp", 53}, "icmp": {"icmp", 0}} {
		if got, err := ParseFlow(in); err != nil || got != want {
			t.Errorf("ParseFlow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"tcp", "tcp:1-2", "all", "sctp:1", "tcp:0", "tcp:70000", "icmp:8"} {
		if _, err := ParseFlow(in); err == nil {
			t.Errorf("ParseFlow(%q) accepted", in)
		}
	}
}
