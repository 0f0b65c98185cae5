package gate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"reachgate/framework/gcpimport"
	"reachgate/framework/netmodel"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
)

// RoundTripPorts are the TCP ports RoundTrip judges every host pair on (0: routes only).
var RoundTripPorts = []uint16{0, 22, 443, 8080}

// RoundTripResult counts what RoundTrip compared and lists where the import disagreed.
type RoundTripResult struct {
	Compared, Reachable int
	Mismatches          []string
	Notes               []string
}

// RoundTrip imports env's project through its GCP API (with env's own third-party side) and
// judges every host pair and RoundTripPorts port with the imported model and with the
// provider's own explanation: an import that loses anything that decides reachability shows up
// as a mismatch.
func RoundTrip(ctx context.Context, env provider.Environment) (*RoundTripResult, error) {
	api, ok := env.(provider.GCPAPI)
	if !ok {
		return nil, errors.New("gate: " + provider.AbilityText[provider.GCPAPI]())
	}
	ex, ok := env.(provider.Explainer)
	if !ok {
		return nil, errors.New("gate: " + provider.AbilityText[provider.Explainer]())
	}
	access, err := api.GCPAPI(ctx)
	if err != nil {
		return nil, err
	}
	t := env.Topology()
	ext := externalOf(env)
	r, err := gcpimport.Import(ctx, gcpimport.Config{Project: access.Project, Endpoint: access.Endpoint, Options: access.Options, Name: t.Name}, ext)
	if err != nil {
		return nil, err
	}
	m, err := computeModel("the imported topology", r.File)
	if err != nil {
		return nil, err
	}
	out := &RoundTripResult{Notes: r.Notes}
	// Hosts are matched by address: the import names what it cannot read (the control plane).
	byIP := map[netip.Addr]bool{}
	for _, h := range m.topo.Hosts {
		byIP[h.IP] = true
	}
	for _, from := range t.Hosts {
		if !byIP[from.IP] {
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("host %s (%s) is not in the imported topology", from.Name, from.IP))
			continue
		}
		for _, to := range t.Hosts {
			if to == from {
				continue
			}
			for _, port := range RoundTripPorts {
				want, why, err := ex.Explain(from.Name, netip.AddrPortFrom(to.IP, port))
				if err != nil {
					return nil, err
				}
				f := netmodel.Flow{}
				if port != 0 {
					f = netmodel.Flow{Proto: "tcp", Port: port}
				}
				got := m.m.TraceFlow(from.IP, to.IP, f)
				out.Compared++
				if want {
					out.Reachable++
				}
				if got.Reachable != want {
					out.Mismatches = append(out.Mismatches, fmt.Sprintf("%s -> %s:%d: the provider says %v (%s); the import says %v (%s)",
						from.Name, to.IP, port, want, why, got.Reachable, got.Reason))
				}
			}
		}
	}
	return out, nil
}

// externalOf is what gcpimport cannot read in env's project (the third-party side and the
// links to it), with the project's ends named as the project names them.
func externalOf(env provider.Environment) *gcpimport.External {
	t := env.Topology()
	if p, ok := env.(provider.ProjectThirdParty); ok && p.ThirdPartyInProject() {
		// The third-party VPCs are the project's (a stand-in): nothing lies outside it.
		t = &topology.Topology{Name: t.Name, Source: t.Source}
	}
	ext := gcpimport.ExternalOf(t)
	ext.RenameProject(func(n string) string { return provider.ProjectName(env, n) })
	return ext
}
