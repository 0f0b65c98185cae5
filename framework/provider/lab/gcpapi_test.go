package lab

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
	"reachgate/framework/pki"
	"reachgate/framework/provider/gcp"
	"reachgate/framework/topology"
	"reachgate/lab"
	labcloud "reachgate/lab/cloud"
	"reachgate/lab/controlplane"
	"reachgate/lab/gcpapi"
	"reachgate/lab/netns"
)

// The official clients (through reachgate's gcp cloud) against a lab's API on loopback: the
// seed topology's cloud with its state in a temporary directory; nothing is provisioned.
func newAPI(t *testing.T) (labcloud.Lab, *gcp.Cloud, *[]string, string) {
	t.Helper()
	return newAPIOn(t, "seed")
}

// newAPIOn is newAPI on the named topology of fixtures/topologies.
func newAPIOn(t *testing.T, name string) (labcloud.Lab, *gcp.Cloud, *[]string, string) {
	t.Helper()
	lc, c, log, url, _ := newAPIServer(t, name)
	return lc, c, log, url
}

// newAPIServer is newAPIOn with the API's server.
func newAPIServer(t *testing.T, name string) (labcloud.Lab, *gcp.Cloud, *[]string, string, *gcpapi.Server) {
	t.Helper()
	topo, err := topology.ParseFile("../../../fixtures/topologies/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("test cluster CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lc := labcloud.Lab{L: &lab.Lab{State: &netns.State{Name: "t", Dir: t.TempDir()}, Topology: topo, Current: topo, Cloud: &lab.CloudState{},
		CP: &controlplane.ControlPlane{CA: ca}}}
	var mu sync.Mutex
	var log []string
	srv := httptest.NewUnstartedServer(nil)
	api := gcpapi.New(lc, "test-project", "http://"+srv.Listener.Addr().String())
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log = append(log, r.Method+" "+r.URL.Path)
		mu.Unlock()
		api.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := gcp.New(ctx, gcp.Config{Project: "test-project", Location: topo.Cluster.Location, Cluster: topo.Cluster.Name,
		Endpoint: srv.URL, Options: []option.ClientOption{option.WithoutAuthentication()}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return lc, c, &log, srv.URL, api
}

func TestGCPClientsAgainstLabAPI(t *testing.T) {
	lc, c, log, _ := newAPI(t)
	ctx := context.Background()

	got, err := c.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := lc.Cluster(ctx)
	if got.Name != want.Name || got.PrivateEndpoint != want.PrivateEndpoint || got.MasterCIDR != want.MasterCIDR ||
		got.PeeringName != want.PeeringName || got.Region != "us-central1" || got.Network != "gke" || string(got.CAPEM) != string(want.CAPEM) {
		t.Errorf("cluster through the API: got %+v; want %+v", got, want)
	}

	spec := cloud.AddressSpec{Name: "ilb-proxy-vip", Region: "us-central1", Subnetwork: "default",
		Address: netip.MustParseAddr("10.128.0.28"), Purpose: "SHARED_LOADBALANCER_VIP"}
	addr, err := c.ReserveInternalAddress(ctx, spec)
	if err != nil || addr != spec.Address {
		t.Fatalf("reserve: got %v, %v; want %v", addr, err, spec.Address)
	}
	// The reservation is in the lab's own state: one source of truth.
	as, _ := lc.Addresses(ctx)
	if len(as) != 1 || as[0].Name != spec.Name || as[0].Address != spec.Address || as[0].Subnetwork != "default" {
		t.Errorf("lab state after insert: %+v", as)
	}
	// The same name and address again is a no-op; another name at the address is refused.
	if _, err := c.ReserveInternalAddress(ctx, spec); err != nil {
		t.Errorf("reserve again: %v", err)
	}
	other := spec
	other.Name = "another"
	_, err = c.ReserveInternalAddress(ctx, other)
	var oe *gcp.OperationError
	if !errors.As(err, &oe) || !strings.Contains(oe.Message, "already reserved as ilb-proxy-vip") || !gcp.IsConflict(err) {
		t.Errorf("reserve a taken address: got %v; want an OperationError naming the operation, 409", err)
	} else if !strings.HasPrefix(oe.Operation, "operation-") {
		t.Errorf("operation name %q", oe.Operation)
	}

	if err := c.ReleaseAddress(ctx, "us-central1", spec.Name); err != nil {
		t.Fatal(err)
	}
	if as, _ := lc.Addresses(ctx); len(as) != 0 {
		t.Errorf("lab state after delete: %+v", as)
	}
	if err := c.ReleaseAddress(ctx, "us-central1", spec.Name); err != nil {
		t.Errorf("release a released address: %v", err)
	}

	// One request line per step, as the clients sent them.
	joined := strings.Join(*log, "\n")
	for _, line := range []string{
		"GET /v1/projects/test-project/locations/us-central1-c/clusters/private-cluster",
		"POST /compute/v1/projects/test-project/regions/us-central1/addresses",
		"GET /compute/v1/projects/test-project/regions/us-central1/operations/",
		"GET /compute/v1/projects/test-project/regions/us-central1/addresses/ilb-proxy-vip",
		"DELETE /compute/v1/projects/test-project/regions/us-central1/addresses/ilb-proxy-vip",
	} {
		if !strings.Contains(joined, line) {
			t.Errorf("request log lacks %q:\n%s", line, joined)
		}
	}
	t.Logf("requests:\n%s", joined)
}

func TestGCPErrorsAreTyped(t *testing.T) {
	_, c, _, url := newAPI(t)
	ctx := context.Background()
	// A subnetwork the lab does not have: a DONE operation with an error (404).
	_, err := c.ReserveInternalAddress(ctx, cloud.AddressSpec{Name: "x", Region: "us-central1", Subnetwork: "nope",
		Address: netip.MustParseAddr("10.128.0.29")})
	var oe *gcp.OperationError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "no subnetwork") || !strings.Contains(err.Error(), oe.Operation) {
		t.Errorf("got %v; want an operation error naming the operation and the lab's message", err)
	}
	// A cluster that is not there: 404 from the API, as a typed error.
	bad, err := gcp.New(ctx, gcp.Config{Project: "test-project", Location: "us-central1-c", Cluster: "other",
		Endpoint: url, Options: []option.ClientOption{option.WithoutAuthentication()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Cluster(ctx)
	var ae *gcp.APIError
	if !errors.As(err, &ae) || ae.Code != http.StatusNotFound || !gcp.IsNotFound(err) {
		t.Errorf("got %v; want a 404 APIError", err)
	}
}

// Reads of the Cloud Router and peering surface agree with the lab's own answers.
func TestGCPRoutersAndPeeringsRead(t *testing.T) {
	lc, c, log, _ := newAPI(t)
	ctx := context.Background()
	got, err := c.GetRouter(ctx, "hub", "hub-router")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := lc.GetRouter(ctx, "hub", "hub-router")
	if got.Name != want.Name || got.Region != want.Region || got.ASN != want.ASN || got.Advertise.Mode != want.Advertise.Mode ||
		len(got.Advertise.Ranges) != 1 || got.Advertise.Ranges[0] != want.Advertise.Ranges[0] {
		t.Errorf("router through the API: got %+v; want %+v", got, want)
	}
	if _, err := c.GetRouter(ctx, "hub", "no-such-router"); !gcp.IsNotFound(err) {
		t.Errorf("missing router: got %v; want not found", err)
	}
	p, err := c.GetPeering(ctx, "gke", "hub-to-gke")
	if err != nil || !p.ImportCustomRoutes || p.ExportCustomRoutes {
		t.Errorf("peering through the API: got %+v, %v; want import only", p, err)
	}
	an, err := c.GetAuthorizedNetworks(ctx)
	wantAN, _ := lc.GetAuthorizedNetworks(ctx)
	if err != nil || an.Enabled != wantAN.Enabled || len(an.CIDRBlocks) != len(wantAN.CIDRBlocks) {
		t.Errorf("authorized networks through the API: got %+v, %v; want %+v", an, err, wantAN)
	}
	if !strings.Contains(strings.Join(*log, "\n"), "GET /compute/v1/projects/test-project/aggregated/routers") {
		t.Errorf("the router's region was not looked up with aggregatedList:\n%s", strings.Join(*log, "\n"))
	}
}

// Labels: set on insert, read back with their fingerprint, changed by setLabels only with the
// current fingerprint; a stale one is compute's 412, which the gcp implementation types.
func TestLabelsAndFingerprints(t *testing.T) {
	_, c, _, url := newAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]string{"owner": "reachgate", "run": "r1"}
	if _, err := c.ReserveInternalAddress(ctx, cloud.AddressSpec{Name: "vip", Region: "us-central1", Subnetwork: "default",
		Address: netip.MustParseAddr("10.128.0.28"), Labels: want}); err != nil {
		t.Fatal(err)
	}
	ac, err := compute.NewAddressesRESTClient(ctx, option.WithEndpoint(url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	get := func() *computepb.Address {
		t.Helper()
		a, err := ac.Get(ctx, &computepb.GetAddressRequest{Project: "test-project", Region: "us-central1", Address: "vip"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := get()
	if !maps.Equal(a.GetLabels(), want) || a.GetLabelFingerprint() == "" {
		t.Fatalf("labels %v fingerprint %q; want %v and a fingerprint", a.GetLabels(), a.GetLabelFingerprint(), want)
	}
	set := func(fp string, labels map[string]string) error {
		op, err := ac.SetLabels(ctx, &computepb.SetLabelsAddressRequest{Project: "test-project", Region: "us-central1", Resource: "vip",
			RegionSetLabelsRequestResource: &computepb.RegionSetLabelsRequest{Labels: labels, LabelFingerprint: proto.String(fp)}})
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
	if err := set("c3RhbGU=", map[string]string{"run": "r2"}); !gcp.IsPreconditionFailed(err) {
		t.Errorf("setLabels with a stale fingerprint: %v; want a 412", err)
	}
	if err := set(a.GetLabelFingerprint(), map[string]string{"Run": "r2"}); httpStatus(err) != http.StatusBadRequest {
		t.Errorf("setLabels with an upper-case key: %v; want a 400", err)
	}
	if err := set(a.GetLabelFingerprint(), map[string]string{"run": "r2"}); err != nil {
		t.Fatalf("setLabels with the current fingerprint: %v", err)
	}
	b := get()
	if !maps.Equal(b.GetLabels(), map[string]string{"run": "r2"}) || b.GetLabelFingerprint() == a.GetLabelFingerprint() {
		t.Errorf("after setLabels: labels %v, fingerprint %q (was %q)", b.GetLabels(), b.GetLabelFingerprint(), a.GetLabelFingerprint())
	}
	if err := set(a.GetLabelFingerprint(), nil); !gcp.IsPreconditionFailed(err) {
		t.Errorf("setLabels with the fingerprint from before the change: %v; want a 412", err)
	}
}

// httpStatus is the HTTP status of a client error, 0 for none.
func httpStatus(err error) int {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode()
	}
	return 0
}

// A Private Service Connect cluster through the official client: the endpoint's subnet, no
// master range or peering, global access as the lab's cloud state says.
func TestGCPClusterPSC(t *testing.T) {
	lc, c, _, _ := newAPIOn(t, "alt-psc")
	ctx := context.Background()
	got, err := c.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.PrivateEndpoint != netip.MustParseAddr("10.61.0.2") || got.PrivateEndpointSubnetwork != "cp-endpoints" ||
		got.MasterCIDR.IsValid() || got.PeeringName != "" || got.MasterGlobalAccess || got.Region != "europe-west1" {
		t.Errorf("PSC cluster through the API: %+v", got)
	}
	on := true
	if err := lc.L.UpdateCloud(func(cs *lab.CloudState) error { cs.GlobalAccess = &on; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Cluster(ctx); err != nil || !got.MasterGlobalAccess {
		t.Errorf("after global access on: %+v, %v; want masterGlobalAccess true", got, err)
	}
	// The DNS-based endpoint: its name, and allowExternalTraffic as the cloud state says (the
	// dns-endpoint suite sets it through clusters.update on a running lab).
	if want := topology.DNSEndpointName(got.Name, got.Location); got.DNSEndpoint != want || got.DNSAllowExternalTraffic {
		t.Errorf("DNS endpoint %q (allowExternalTraffic %v); want %q, false", got.DNSEndpoint, got.DNSAllowExternalTraffic, want)
	}
	if err := lc.L.UpdateCloud(func(cs *lab.CloudState) error { cs.DNSExternalTraffic = &on; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Cluster(ctx); err != nil || !got.DNSAllowExternalTraffic {
		t.Errorf("after allowExternalTraffic on: %+v, %v; want it true", got, err)
	}
}
