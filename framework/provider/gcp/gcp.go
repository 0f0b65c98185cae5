// Package gcp is the cloud interface on Google's official clients: compute v1 and container v1
// over REST (cloud.google.com/go/compute/apiv1, container/apiv1). The endpoint and credentials
// come from options, so the same code targets a real project or a lab's API
// (reachgate/lab/gcpapi) on every test run.
//
// Every mutation carries a RequestId (so a retried call is not applied twice), every call a
// context deadline, and every operation is waited for and then read back: a DONE operation
// with an error is an error even when the HTTP status it reports is 2xx.
package gcp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/uuid"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/option"
	httptransport "google.golang.org/api/transport/http"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
	"reachgate/framework/provider"
	"reachgate/framework/topology"
)

// Config names the project and cluster, and how to reach the APIs.
type Config struct {
	Project  string
	Location string // the cluster's zone or region
	Cluster  string
	// Endpoint is the scheme and host of both APIs ("http://10.0.0.1:8080" for a lab); empty
	// means Google's own.
	Endpoint string
	// Options are added to every client (credentials, an HTTP client).
	Options []option.ClientOption
	// Timeout bounds each call and each operation wait; default 5 minutes.
	Timeout time.Duration
}

// cloudPlatformScope is the OAuth scope of every call the Cloud makes on Google.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// Cloud implements provider.Cloud.
type Cloud struct {
	// Calls counts the API calls made through the Cloud (CallCounts).
	Calls     *CallCounts
	cfg       Config
	addresses *compute.AddressesClient
	regionOps *compute.RegionOperationsClient
	globalOps *compute.GlobalOperationsClient
	routers   *compute.RoutersClient
	networks  *compute.NetworksClient
	clusters  *container.ClusterManagerClient

	vpnGateways      *compute.VpnGatewaysClient
	externalGateways *compute.ExternalVpnGatewaysClient
	vpnTunnels       *compute.VpnTunnelsClient

	instances   *compute.InstancesClient
	zoneOps     *compute.ZoneOperationsClient
	firewalls   *compute.FirewallsClient
	subnetworks *compute.SubnetworksClient
	attachments *compute.InterconnectAttachmentsClient

	// routerRegions caches the region of each router found ("<network>/<router>"): a status
	// poll then costs one call, not an aggregatedList and a call.
	routerRegions sync.Map
}

var _ provider.Cloud = (*Cloud)(nil)

// New opens the clients; Close releases them. The cluster's calls (provider.Cloud) need
// Location and Cluster; the project-wide ones (the janitor, the agent) only Project.
func New(ctx context.Context, cfg Config) (*Cloud, error) {
	if cfg.Project == "" {
		return nil, errors.New("gcp: a project is required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Minute
	}
	opts := cfg.Options
	if cfg.Endpoint != "" {
		opts = append([]option.ClientOption{option.WithEndpoint(strings.TrimSuffix(cfg.Endpoint, "/"))}, opts...)
	}
	c := &Cloud{cfg: cfg, Calls: &CallCounts{}}
	// One HTTP client for every API client, its transport counting the calls: the given one
	// (the lab's), or Google's authenticated one from the options.
	hc, _, err := httptransport.NewClient(ctx, append([]option.ClientOption{option.WithScopes(cloudPlatformScope)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("gcp: HTTP client: %w", err)
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	counted := *hc
	counted.Transport = countingTransport{next: next, counts: c.Calls}
	opts = append(opts, option.WithHTTPClient(&counted))
	if c.addresses, err = compute.NewAddressesRESTClient(ctx, opts...); err != nil {
		return nil, fmt.Errorf("gcp: addresses client: %w", err)
	}
	if c.regionOps, err = compute.NewRegionOperationsRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: region operations client: %w", err), c.Close())
	}
	if c.globalOps, err = compute.NewGlobalOperationsRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: global operations client: %w", err), c.Close())
	}
	if c.routers, err = compute.NewRoutersRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: routers client: %w", err), c.Close())
	}
	if c.networks, err = compute.NewNetworksRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: networks client: %w", err), c.Close())
	}
	if c.vpnGateways, err = compute.NewVpnGatewaysRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: vpn gateways client: %w", err), c.Close())
	}
	if c.externalGateways, err = compute.NewExternalVpnGatewaysRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: external vpn gateways client: %w", err), c.Close())
	}
	if c.vpnTunnels, err = compute.NewVpnTunnelsRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: vpn tunnels client: %w", err), c.Close())
	}
	if c.instances, err = compute.NewInstancesRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: instances client: %w", err), c.Close())
	}
	if c.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: zone operations client: %w", err), c.Close())
	}
	if c.firewalls, err = compute.NewFirewallsRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: firewalls client: %w", err), c.Close())
	}
	if c.subnetworks, err = compute.NewSubnetworksRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: subnetworks client: %w", err), c.Close())
	}
	if c.attachments, err = compute.NewInterconnectAttachmentsRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: interconnect attachments client: %w", err), c.Close())
	}
	if c.clusters, err = container.NewClusterManagerRESTClient(ctx, opts...); err != nil {
		return nil, errors.Join(fmt.Errorf("gcp: cluster manager client: %w", err), c.Close())
	}
	return c, nil
}

// Close releases the clients.
func (c *Cloud) Close() error {
	var errs []error
	if c.addresses != nil {
		errs = append(errs, c.addresses.Close())
	}
	if c.regionOps != nil {
		errs = append(errs, c.regionOps.Close())
	}
	if c.globalOps != nil {
		errs = append(errs, c.globalOps.Close())
	}
	if c.routers != nil {
		errs = append(errs, c.routers.Close())
	}
	if c.networks != nil {
		errs = append(errs, c.networks.Close())
	}
	if c.clusters != nil {
		errs = append(errs, c.clusters.Close())
	}
	if c.vpnGateways != nil {
		errs = append(errs, c.vpnGateways.Close())
	}
	if c.externalGateways != nil {
		errs = append(errs, c.externalGateways.Close())
	}
	if c.vpnTunnels != nil {
		errs = append(errs, c.vpnTunnels.Close())
	}
	if c.instances != nil {
		errs = append(errs, c.instances.Close())
	}
	if c.zoneOps != nil {
		errs = append(errs, c.zoneOps.Close())
	}
	if c.firewalls != nil {
		errs = append(errs, c.firewalls.Close())
	}
	if c.subnetworks != nil {
		errs = append(errs, c.subnetworks.Close())
	}
	if c.attachments != nil {
		errs = append(errs, c.attachments.Close())
	}
	return errors.Join(errs...)
}

// Cluster implements provider.Cloud with clusters.get.
func (c *Cloud) Cluster(ctx context.Context) (cloud.ClusterDescription, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	name := fmt.Sprintf("projects/%s/locations/%s/clusters/%s", c.cfg.Project, c.cfg.Location, c.cfg.Cluster)
	var cl *containerpb.Cluster
	err := retry(ctx, func() (err error) {
		cl, err = c.clusters.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
		return err
	})
	if err != nil {
		return cloud.ClusterDescription{}, wrap("get cluster "+name, err)
	}
	return describe(cl)
}

// describe maps a Cluster resource to the neutral description.
func describe(cl *containerpb.Cluster) (cloud.ClusterDescription, error) {
	pc := cl.GetPrivateClusterConfig()
	d := cloud.ClusterDescription{Name: cl.GetName(), Location: cl.GetLocation(), Region: topology.RegionOf(cl.GetLocation()),
		Network: lastSegment(cl.GetNetwork()), Subnetwork: lastSegment(cl.GetSubnetwork()), PeeringName: pc.GetPeeringName(),
		CurrentMasterVersion: cl.GetCurrentMasterVersion()}
	if v := d.CurrentMasterVersion; v != "" && !strings.HasPrefix(v, "v") {
		// GKE's currentMasterVersion (1.30.5-gke.1014001) is the API server's gitVersion without its v.
		d.CurrentMasterVersion = "v" + v
	}
	var err error
	if d.PrivateEndpoint, err = netip.ParseAddr(pc.GetPrivateEndpoint()); err != nil {
		return d, fmt.Errorf("cluster %s: privateClusterConfig.privateEndpoint %q: %w", d.Name, pc.GetPrivateEndpoint(), err)
	}
	d.MasterGlobalAccess = pc.GetMasterGlobalAccessConfig().GetEnabled()
	if dns := cl.GetControlPlaneEndpointsConfig().GetDnsEndpointConfig(); dns.GetEndpoint() != "" {
		d.DNSEndpoint, d.DNSAllowExternalTraffic = dns.GetEndpoint(), dns.GetAllowExternalTraffic()
	}
	if sub := pc.GetPrivateEndpointSubnetwork(); sub != "" {
		// Private Service Connect: no master range, no peering.
		d.PrivateEndpointSubnetwork = lastSegment(sub)
	} else if d.MasterCIDR, err = netip.ParsePrefix(pc.GetMasterIpv4CidrBlock()); err != nil {
		return d, fmt.Errorf("cluster %s: privateClusterConfig.masterIpv4CidrBlock %q: %w", d.Name, pc.GetMasterIpv4CidrBlock(), err)
	}
	if d.CAPEM, err = base64.StdEncoding.DecodeString(cl.GetMasterAuth().GetClusterCaCertificate()); err != nil {
		return d, fmt.Errorf("cluster %s: masterAuth.clusterCaCertificate: %w", d.Name, err)
	}
	return d, nil
}

// ReserveInternalAddress implements provider.Cloud with addresses.insert (INTERNAL). Reserving
// the same name at the same address again is a no-op, as on the lab.
func (c *Cloud) ReserveInternalAddress(ctx context.Context, spec cloud.AddressSpec) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	res := &computepb.Address{Name: proto.String(spec.Name), Address: proto.String(spec.Address.String()),
		AddressType: proto.String("INTERNAL"), Labels: spec.Labels,
		Subnetwork: proto.String(fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", c.cfg.Project, spec.Region, spec.Subnetwork))}
	if spec.Purpose != "" {
		res.Purpose = proto.String(spec.Purpose)
	}
	req := &computepb.InsertAddressRequest{Project: c.cfg.Project, Region: spec.Region, AddressResource: res, RequestId: requestID()}
	var op *compute.Operation
	err := retry(ctx, func() (err error) {
		op, err = c.addresses.Insert(ctx, req)
		return err
	})
	if IsConflict(err) {
		if got, gerr := c.addresses.Get(ctx, &computepb.GetAddressRequest{Project: c.cfg.Project, Region: spec.Region, Address: spec.Name}); gerr == nil && got.GetAddress() == spec.Address.String() {
			return spec.Address, nil
		}
	}
	if err != nil {
		return netip.Addr{}, wrap("insert address "+spec.Name, err)
	}
	if err := c.wait(ctx, spec.Region, op); err != nil {
		return netip.Addr{}, err
	}
	got, err := c.addresses.Get(ctx, &computepb.GetAddressRequest{Project: c.cfg.Project, Region: spec.Region, Address: spec.Name})
	if err != nil {
		return netip.Addr{}, wrap("get address "+spec.Name, err)
	}
	return netip.ParseAddr(got.GetAddress())
}

// ReleaseAddress implements provider.Cloud with addresses.delete; a missing address is
// already released.
func (c *Cloud) ReleaseAddress(ctx context.Context, region, name string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := &computepb.DeleteAddressRequest{Project: c.cfg.Project, Region: region, Address: name, RequestId: requestID()}
	var op *compute.Operation
	err := retry(ctx, func() (err error) {
		op, err = c.addresses.Delete(ctx, req)
		return err
	})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap("delete address "+name, err)
	}
	return c.wait(ctx, region, op)
}

// wait waits for a regional operation (a global one when region is "") and reads it back:
// Wait reports an operation's error only when it carries an HTTP error status, so the error
// field is checked too.
func (c *Cloud) wait(ctx context.Context, region string, op *compute.Operation) error {
	if err := op.Wait(ctx); err != nil {
		return &OperationError{Operation: op.Name(), Message: err.Error(), err: err}
	}
	var got *computepb.Operation
	var err error
	if region == "" {
		got, err = c.globalOps.Get(ctx, &computepb.GetGlobalOperationRequest{Project: c.cfg.Project, Operation: op.Name()})
	} else {
		got, err = c.regionOps.Get(ctx, &computepb.GetRegionOperationRequest{Project: c.cfg.Project, Region: region, Operation: op.Name()})
	}
	return operationResult(op.Name(), got, err)
}

// operationResult is the error of an operation read back (or of reading it).
func operationResult(name string, got *computepb.Operation, err error) error {
	if err != nil {
		return wrap("get operation "+name, err)
	}
	if e := got.GetError(); e != nil && len(e.GetErrors()) > 0 {
		var msgs []string
		for _, x := range e.GetErrors() {
			msgs = append(msgs, x.GetMessage())
		}
		return &OperationError{Operation: name, Code: int(got.GetHttpErrorStatusCode()), Message: strings.Join(msgs, "; ")}
	}
	return nil
}

func requestID() *string { return proto.String(uuid.NewString()) }

func lastSegment(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// retry repeats f on 429 and 5xx with exponential backoff from 250 ms, until ctx ends.
func retry(ctx context.Context, f func() error) error {
	delay := 250 * time.Millisecond
	for {
		err := f()
		code := httpCode(err)
		if err == nil || (code != 429 && code < 500) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 8*time.Second)
	}
}

// httpCode is the HTTP status of an API error (0 for others).
func httpCode(err error) int {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode()
	}
	return 0
}

// GetAuthorizedNetworks implements provider.VPNCloud with clusters.get.
func (c *Cloud) GetAuthorizedNetworks(ctx context.Context) (cloud.AuthorizedNetworks, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var cl *containerpb.Cluster
	if err := retry(ctx, func() (err error) {
		cl, err = c.clusters.GetCluster(ctx, &containerpb.GetClusterRequest{Name: c.clusterName()})
		return err
	}); err != nil {
		return cloud.AuthorizedNetworks{}, wrap("get cluster "+c.clusterName(), err)
	}
	an := cl.GetMasterAuthorizedNetworksConfig()
	out := cloud.AuthorizedNetworks{Enabled: an.GetEnabled(), PrivateEndpointEnforcement: an.GetPrivateEndpointEnforcementEnabled()}
	for _, b := range an.GetCidrBlocks() {
		p, err := netip.ParsePrefix(b.GetCidrBlock())
		if err != nil {
			return out, fmt.Errorf("cluster %s: authorized network %q: %w", cl.GetName(), b.GetCidrBlock(), err)
		}
		out.CIDRBlocks = append(out.CIDRBlocks, p)
	}
	return out, nil
}

// SetAuthorizedNetworks implements provider.VPNCloud with clusters.update
// (desiredMasterAuthorizedNetworksConfig), waiting for the operation by polling operations.get.
func (c *Cloud) SetAuthorizedNetworks(ctx context.Context, a cloud.AuthorizedNetworks) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	cfg := &containerpb.MasterAuthorizedNetworksConfig{Enabled: a.Enabled, PrivateEndpointEnforcementEnabled: proto.Bool(a.PrivateEndpointEnforcement)}
	for _, p := range a.CIDRBlocks {
		cfg.CidrBlocks = append(cfg.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{CidrBlock: p.String()})
	}
	return c.updateCluster(ctx, &containerpb.ClusterUpdate{DesiredMasterAuthorizedNetworksConfig: cfg})
}

// SetMasterGlobalAccess turns the control plane's global access on or off with clusters.update
// (desiredPrivateClusterConfig.masterGlobalAccessConfig), waiting for the operation.
func (c *Cloud) SetMasterGlobalAccess(ctx context.Context, enabled bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.updateCluster(ctx, &containerpb.ClusterUpdate{DesiredPrivateClusterConfig: &containerpb.PrivateClusterConfig{
		MasterGlobalAccessConfig: &containerpb.PrivateClusterMasterGlobalAccessConfig{Enabled: enabled}}})
}

// SetDNSEndpointExternalTraffic lets user traffic through the cluster's DNS-based endpoint, or
// stops it, with clusters.update (what `gcloud container clusters update --enable-dns-access`
// sends), and waits for the operation.
func (c *Cloud) SetDNSEndpointExternalTraffic(ctx context.Context, allow bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.updateCluster(ctx, &containerpb.ClusterUpdate{DesiredControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{
		DnsEndpointConfig: &containerpb.ControlPlaneEndpointsConfig_DNSEndpointConfig{AllowExternalTraffic: &allow}}})
}

// updateCluster sends clusters.update and polls operations.get until the operation is DONE.
func (c *Cloud) updateCluster(ctx context.Context, u *containerpb.ClusterUpdate) error {
	var op *containerpb.Operation
	if err := retry(ctx, func() (err error) {
		op, err = c.clusters.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: c.clusterName(), Update: u})
		return err
	}); err != nil {
		return wrap("update cluster "+c.clusterName(), err)
	}
	return c.waitContainer(ctx, c.cfg.Location, op)
}

// waitContainer polls a container operation of location until it is DONE and returns its error.
func (c *Cloud) waitContainer(ctx context.Context, location string, op *containerpb.Operation) error {
	for delay := 250 * time.Millisecond; op.GetStatus() != containerpb.Operation_DONE; delay = min(2*delay, 5*time.Second) {
		select {
		case <-ctx.Done():
			return &OperationError{Operation: op.GetName(), Message: "not DONE: " + ctx.Err().Error(), err: ctx.Err()}
		case <-time.After(delay):
		}
		name := fmt.Sprintf("projects/%s/locations/%s/operations/%s", c.cfg.Project, location, op.GetName())
		var err error
		if op, err = c.clusters.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name}); err != nil {
			return wrap("get operation "+name, err)
		}
	}
	if e := op.GetError(); e != nil && e.GetCode() != 0 {
		return &OperationError{Operation: op.GetName(), Code: 400, Message: e.GetMessage()}
	}
	return nil
}

func (c *Cloud) clusterName() string {
	return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", c.cfg.Project, c.cfg.Location, c.cfg.Cluster)
}
