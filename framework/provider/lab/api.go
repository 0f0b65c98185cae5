package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"google.golang.org/api/option"

	"reachgate/framework/cloud"
	"reachgate/framework/provider"
	"reachgate/framework/provider/gcp"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/gcpapi"
	"reachgate/lab/netns"
)

// InProcessEnv, set to 1, makes the lab hand solutions its cloud in process, without the API.
const InProcessEnv = "REACHGATE_LAB_CLOUD_INPROCESS"

// api is the lab's cloud served as the GCP APIs on loopback, for this process, and the gcp
// cloud implementation that talks to it.
type api struct {
	once   sync.Once
	err    error
	server *http.Server
	gcp    *gcp.Cloud
	access provider.APIAccess
}

// apiCloud is the cloud the lab hands to solutions: the cluster, addresses, Cloud Routers and
// peerings of the customer's GCP VPCs through Google's official clients over HTTP against the
// lab's API (reachgate/lab/gcpapi), so every run drives them as a real project would. What a
// project cannot reach through the API stays in process: the third-party cloud's router, the
// Google-managed master VPC's side, and (until the API serves it) the VPN gateway status.
type apiCloud struct {
	labcloud.Lab
	gcp *gcp.Cloud
}

var (
	_ provider.VPNCloud         = apiCloud{}
	_ provider.EndpointCloud    = apiCloud{}
	_ provider.DNSEndpointCloud = apiCloud{}
)

func (c apiCloud) Cluster(ctx context.Context) (cloud.ClusterDescription, error) {
	return c.gcp.Cluster(ctx)
}

func (c apiCloud) ReserveInternalAddress(ctx context.Context, spec cloud.AddressSpec) (netip.Addr, error) {
	return c.gcp.ReserveInternalAddress(ctx, spec)
}

func (c apiCloud) ReleaseAddress(ctx context.Context, region, name string) error {
	return c.gcp.ReleaseAddress(ctx, region, name)
}

// viaAPI reports whether network is a customer GCP VPC of the lab, which the API serves.
func (c apiCloud) viaAPI(network string) bool {
	_ = c.L.Refresh() // the API changes the lab in another process
	n := c.L.Current.Network(network)
	return n != nil && n.GCP() && n.ManagedBy == ""
}

func (c apiCloud) GetRouter(ctx context.Context, network, router string) (cloud.Router, error) {
	if !c.viaAPI(network) {
		return c.Lab.GetRouter(ctx, network, router)
	}
	return c.gcp.GetRouter(ctx, network, router)
}

func (c apiCloud) PatchRouter(ctx context.Context, p cloud.RouterPatch) error {
	if !c.viaAPI(p.Network) {
		return c.Lab.PatchRouter(ctx, p)
	}
	return c.gcp.PatchRouter(ctx, p)
}

func (c apiCloud) GetRouterStatus(ctx context.Context, network, router string) (cloud.RouterStatus, error) {
	if !c.viaAPI(network) {
		return c.Lab.GetRouterStatus(ctx, network, router)
	}
	return c.gcp.GetRouterStatus(ctx, network, router)
}

func (c apiCloud) GetPeering(ctx context.Context, network, name string) (cloud.NetworkPeering, error) {
	if !c.viaAPI(network) {
		return c.Lab.GetPeering(ctx, network, name)
	}
	return c.gcp.GetPeering(ctx, network, name)
}

func (c apiCloud) UpdatePeering(ctx context.Context, p cloud.NetworkPeering) error {
	if !c.viaAPI(p.Network) {
		return c.Lab.UpdatePeering(ctx, p)
	}
	return c.gcp.UpdatePeering(ctx, p)
}

func (c apiCloud) ListPeeringRoutes(ctx context.Context, network, peering, direction string) ([]cloud.PeeringRoute, error) {
	if !c.viaAPI(network) {
		return c.Lab.ListPeeringRoutes(ctx, network, peering, direction)
	}
	return c.gcp.ListPeeringRoutes(ctx, network, peering, direction)
}

func (c apiCloud) InsertVpnGateway(ctx context.Context, g cloud.VpnGateway) error {
	return c.gcp.InsertVpnGateway(ctx, g)
}

func (c apiCloud) DeleteVpnGateway(ctx context.Context, name string) error {
	return c.gcp.DeleteVpnGateway(ctx, name)
}

func (c apiCloud) InsertExternalVpnGateway(ctx context.Context, g cloud.ExternalVpnGateway) error {
	return c.gcp.InsertExternalVpnGateway(ctx, g)
}

func (c apiCloud) DeleteExternalVpnGateway(ctx context.Context, name string) error {
	return c.gcp.DeleteExternalVpnGateway(ctx, name)
}

func (c apiCloud) InsertVpnTunnel(ctx context.Context, t cloud.VpnTunnel) error {
	return c.gcp.InsertVpnTunnel(ctx, t)
}

func (c apiCloud) DeleteVpnTunnel(ctx context.Context, name string) error {
	return c.gcp.DeleteVpnTunnel(ctx, name)
}

func (c apiCloud) GetAuthorizedNetworks(ctx context.Context) (cloud.AuthorizedNetworks, error) {
	return c.gcp.GetAuthorizedNetworks(ctx)
}

func (c apiCloud) SetAuthorizedNetworks(ctx context.Context, a cloud.AuthorizedNetworks) error {
	return c.gcp.SetAuthorizedNetworks(ctx, a)
}

func (c apiCloud) SetMasterGlobalAccess(ctx context.Context, enabled bool) error {
	return c.gcp.SetMasterGlobalAccess(ctx, enabled)
}

func (c apiCloud) SetDNSEndpointExternalTraffic(ctx context.Context, allow bool) error {
	return c.gcp.SetDNSEndpointExternalTraffic(ctx, allow)
}

// startAPI opens the official clients on the lab's GCP API, once: the API `lab up` started in
// the operator's namespace (the clients' connections are opened there), or, for a lab brought
// up without one, the lab's cloud served on 127.0.0.1 by this process.
func (e *Environment) startAPI(lc labcloud.Lab) (*gcp.Cloud, error) {
	e.api.once.Do(func() {
		// Without a cluster (a bare lab) the project-wide calls still work.
		var location, cluster string
		if cl := e.lab.Topology.Cluster; cl != nil {
			location, cluster = cl.Location, cl.Name
		}
		project := lab.Project(e.lab.State.Name)
		endpoint, ns, ok := e.lab.APIEndpoint()
		var opts []option.ClientOption
		if ok {
			opts = append(opts, option.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: netns.Dialer(ns)}}))
		} else {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				e.api.err = fmt.Errorf("serve the lab's GCP API: %w", err)
				return
			}
			endpoint = "http://" + ln.Addr().String()
			e.api.server = &http.Server{Handler: gcpapi.New(lc, project, endpoint), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = e.api.server.Serve(ln) }()
			opts = append(opts, option.WithoutAuthentication())
			if e.log != nil {
				e.log.Warn("the lab serves no GCP API (brought up without one); this process serves it on loopback", "lab", e.lab.State.Name)
			}
		}
		e.api.access = provider.APIAccess{Project: project, Endpoint: endpoint, Options: opts}
		e.api.gcp, e.api.err = gcp.New(context.Background(), gcp.Config{Project: project, Location: location, Cluster: cluster,
			Endpoint: endpoint, Options: opts, Timeout: 2 * time.Minute})
		if e.log != nil && e.api.err == nil {
			e.log.Debug("lab GCP API", "endpoint", endpoint, "namespace", ns, "project", project)
		}
	})
	return e.api.gcp, e.api.err
}

// stopAPI closes the clients and the server, if they were started.
func (e *Environment) stopAPI(ctx context.Context) error {
	var errs []error
	if e.api.gcp != nil {
		errs = append(errs, e.api.gcp.Close())
	}
	if e.api.server != nil {
		errs = append(errs, e.api.server.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// GCPAPI implements provider.GCPAPI: the lab's API in its operator namespace (the options
// dial there), or, for a lab brought up without one, this process's loopback server.
func (e *Environment) GCPAPI(context.Context) (provider.APIAccess, error) {
	if _, err := e.startAPI(labcloud.Lab{L: e.lab, Self: e.self, Log: e.log}); err != nil {
		return provider.APIAccess{}, fmt.Errorf("lab %s: GCP API: %w", e.lab.State.Name, err)
	}
	return e.api.access, nil
}

// Cloud implements provider.CloudAccess. The value also implements provider.VPNCloud.
func (e *Environment) Cloud() provider.Cloud {
	lc := labcloud.Lab{L: e.lab, Self: e.self, Log: e.log}
	if os.Getenv(InProcessEnv) == "1" {
		return lc
	}
	g, err := e.startAPI(lc)
	if err != nil {
		if e.log != nil {
			e.log.Warn("lab GCP API unavailable; the cloud is used in process", "err", err)
		}
		return lc
	}
	return apiCloud{Lab: lc, gcp: g}
}
