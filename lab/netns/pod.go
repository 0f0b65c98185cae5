package netns

import (
	"context"
	"fmt"
	"net/netip"
)

// PodGateway is the link-local address a node answers on for its pods (as many CNIs do).
var PodGateway = netip.MustParseAddr("169.254.1.1")

// AddPod creates a pod's namespace, joined to its node's namespace by a veth (ifname on the
// node side, eth0 in the pod) and addressed with ip/32; the node routes ip to it. The
// namespace is recorded in the state before it is created.
func (s *State) AddPod(ctx context.Context, nodeNS, podNS, ifname string, ip netip.Addr) error {
	if err := s.RecordNamespace(podNS); err != nil {
		return err
	}
	if _, err := run(ctx, "", "ip", "netns", "add", podNS); err != nil {
		return err
	}
	node := &batch{ns: nodeNS}
	node.add("link add %s type veth peer name eth0 netns %s", ifname, podNS)
	node.add("addr add %s/32 dev %s", PodGateway, ifname)
	node.add("link set %s up", ifname)
	node.add("route replace %s/32 dev %s", ip, ifname)
	pod := &batch{ns: podNS}
	pod.add("link set lo up")
	pod.add("addr add %s/32 dev eth0", ip)
	pod.add("link set eth0 up")
	pod.add("route replace %s/32 dev eth0 scope link", PodGateway)
	pod.add("route replace default via %s dev eth0", PodGateway)
	if err := node.run(ctx); err != nil {
		return fmt.Errorf("attach pod %s: %w", podNS, err)
	}
	return pod.run(ctx)
}

// RemoveNamespace kills what runs inside one of the lab's namespaces, deletes it and drops
// it from the state.
func (s *State) RemoveNamespace(ctx context.Context, ns string) error {
	live, err := ListNamespaces(ctx)
	if err != nil {
		return err
	}
	for _, n := range live {
		if n == ns {
			if err := deleteNamespace(ctx, ns); err != nil {
				return err
			}
		}
	}
	return s.Forget(nil, []string{ns})
}

// AddIsolated creates a namespace with only its loopback up (the lab's operator position),
// recorded in the state before it is created.
func (s *State) AddIsolated(ctx context.Context, ns string) error {
	if err := s.RecordNamespace(ns); err != nil {
		return err
	}
	if _, err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
		return err
	}
	_, err := run(ctx, "", "ip", "-n", ns, "link", "set", "lo", "up")
	return err
}
