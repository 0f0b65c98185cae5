package gcpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"reachgate/framework/cloud"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"
)

// container serves p = [project, "locations", location, "clusters"|"operations", name]:
// clusters.get, clusters.update (PUT) and operations.get; and p = [project, "locations",
// location, "clusters"]: clusters.list (location "-": every location).
func (s *Server) container(w http.ResponseWriter, r *http.Request, p []string) {
	if len(p) == 4 && p[1] == "locations" && p[3] == "clusters" && r.Method == http.MethodGet {
		s.listClusters(w, r, p[0], p[2])
		return
	}
	if len(p) == 4 && p[0] == s.project && p[1] == "locations" && p[3] == "clusters" && r.Method == http.MethodPost {
		s.createCluster(w, r, p[2])
		return
	}
	if len(p) != 5 || p[1] != "locations" || (p[3] != "clusters" && p[3] != "operations") {
		writeError(w, http.StatusNotFound, "notFound", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	if p[3] == "operations" && r.Method == http.MethodGet {
		s.containerOperation(w, p)
		return
	}
	d, err := s.cloud.Cluster(r.Context())
	if err != nil || p[0] != s.project || d.Name != p[4] || (p[2] != d.Location && p[2] != "-") {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: projects/%s/locations/%s/clusters/%s.", p[0], p[2], p[4]))
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		s.updateCluster(w, r, d.Location, d.Name)
		return
	case http.MethodDelete:
		s.deleteCluster(w, d.Location, d.Name)
		return
	default:
		writeError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method+" is not allowed on "+r.URL.Path)
		return
	}
	out, err := s.clusterResource(r.Context(), d)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	writeProto(w, http.StatusOK, out)
}

// listClusters serves clusters.list: the lab's cluster when location is its own or "-".
func (s *Server) listClusters(w http.ResponseWriter, r *http.Request, project, location string) {
	if project != s.project {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: projects/%s.", project))
		return
	}
	out := &containerpb.ListClustersResponse{}
	if d, err := s.cloud.Cluster(r.Context()); err == nil && (location == "-" || location == d.Location) {
		c, err := s.clusterResource(r.Context(), d)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internalError", err.Error())
			return
		}
		out.Clusters = append(out.Clusters, c)
	}
	writeProto(w, http.StatusOK, out)
}

// clusterResource is the Cluster resource of the lab's private cluster.
func (s *Server) clusterResource(ctx context.Context, d cloud.ClusterDescription) (*containerpb.Cluster, error) {
	an, err := s.cloud.GetAuthorizedNetworks(ctx)
	if err != nil {
		return nil, err
	}
	version := ""
	if c := s.cloud.L.Current.Cluster; c != nil {
		version = strings.TrimPrefix(c.KubernetesVersion, "v")
	}
	authorized := &containerpb.MasterAuthorizedNetworksConfig{Enabled: an.Enabled,
		PrivateEndpointEnforcementEnabled: proto.Bool(an.PrivateEndpointEnforcement)}
	for _, b := range an.CIDRBlocks {
		authorized.CidrBlocks = append(authorized.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{CidrBlock: b.String()})
	}
	ep := d.PrivateEndpoint.String()
	policy := &containerpb.IPAllocationPolicy{UseIpAliases: true}
	if c := s.cloud.L.Current.Cluster; c != nil {
		policy.ClusterIpv4CidrBlock, policy.ServicesIpv4CidrBlock = c.PodRange.String(), c.ServiceRange.String()
		if n := s.cloud.L.Current.Network(c.VPC); n != nil {
			if sub := n.Subnet(c.Subnet); sub != nil {
				for _, r := range sub.Secondary {
					switch r.CIDR {
					case c.PodRange:
						policy.ClusterSecondaryRangeName = r.Name
					case c.ServiceRange:
						policy.ServicesSecondaryRangeName = r.Name
					}
				}
			}
		}
	}
	out := &containerpb.Cluster{
		Name: d.Name, Location: d.Location, Network: d.Network, Subnetwork: d.Subnetwork,
		Endpoint: ep, CurrentMasterVersion: version, CurrentNodeVersion: version,
		Status: containerpb.Cluster_RUNNING, Id: fmt.Sprintf("%016x", stableID("cluster/"+d.Location+"/"+d.Name)),
		CreateTime: s.created(), Locations: []string{d.Location},
		SelfLink:   s.base + "/v1/projects/" + s.project + "/locations/" + d.Location + "/clusters/" + d.Name,
		MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: encodeCA(d.CAPEM)},
		// VPC-native: the pods and services are the node subnet's secondary ranges.
		IpAllocationPolicy: policy,
		PrivateClusterConfig: &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, EnablePrivateEndpoint: true,
			PrivateEndpoint: ep, MasterGlobalAccessConfig: &containerpb.PrivateClusterMasterGlobalAccessConfig{Enabled: d.MasterGlobalAccess}},
		// GKE keeps the two authorized-networks fields in sync; both are served.
		MasterAuthorizedNetworksConfig: authorized,
		ControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
			Enabled: proto.Bool(true), EnablePublicEndpoint: proto.Bool(false), PrivateEndpoint: ep, AuthorizedNetworksConfig: authorized,
			GlobalAccess: proto.Bool(d.MasterGlobalAccess)}},
	}
	if c := s.cloud.L.Cloud.Cluster; c != nil && c.Name == d.Name {
		// Created through the API: what the request set, and its nodes.
		out.ResourceLabels, out.Description = c.Labels, c.Description
		out.CreateTime = c.Created.Format(time.RFC3339)
		out.CurrentNodeCount = int32(len(c.NodeIPs))
		out.InitialNodeCount = int32(len(c.NodeIPs))
	}
	if d.DNSEndpoint != "" {
		out.ControlPlaneEndpointsConfig.DnsEndpointConfig = &containerpb.ControlPlaneEndpointsConfig_DNSEndpointConfig{
			Endpoint: d.DNSEndpoint, AllowExternalTraffic: proto.Bool(d.DNSAllowExternalTraffic)}
	}
	if d.PrivateEndpointSubnetwork != "" {
		// Private Service Connect: the endpoint is an address of a subnet of the cluster's
		// VPC; there is no master range and no GKE peering.
		sub := "projects/" + s.project + "/regions/" + d.Region + "/subnetworks/" + d.PrivateEndpointSubnetwork
		out.PrivateClusterConfig.PrivateEndpointSubnetwork = sub
		out.ControlPlaneEndpointsConfig.IpEndpointsConfig.PrivateEndpointSubnetwork = sub
	} else {
		out.PrivateClusterConfig.MasterIpv4CidrBlock, out.PrivateClusterConfig.PeeringName = d.MasterCIDR.String(), d.PeeringName
	}
	return out, nil
}

// encodeCA is masterAuth.clusterCaCertificate: the PEM, base64-encoded.
func encodeCA(pem []byte) string { return base64.StdEncoding.EncodeToString(pem) }

// updateCluster applies clusters.update: the master authorized networks, from either
// desiredMasterAuthorizedNetworksConfig or desiredControlPlaneEndpointsConfig (what gcloud
// sends); both fields of the cluster then show the result, as GKE keeps them in sync. And
// control plane global access, from desiredPrivateClusterConfig.masterGlobalAccessConfig or
// desiredControlPlaneEndpointsConfig.ipEndpointsConfig.globalAccess. Any other desired field
// is refused, so nothing is silently ignored.
func (s *Server) updateCluster(w http.ResponseWriter, r *http.Request, location, name string) {
	var in containerpb.UpdateClusterRequest
	if !decode(w, r, &in) {
		return
	}
	u := in.GetUpdate()
	an := u.GetDesiredMasterAuthorizedNetworksConfig()
	if cp := u.GetDesiredControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetAuthorizedNetworksConfig(); cp != nil {
		an = cp
	}
	var global *bool
	if g := u.GetDesiredPrivateClusterConfig().GetMasterGlobalAccessConfig(); g != nil {
		global = proto.Bool(g.GetEnabled())
	}
	if ip := u.GetDesiredControlPlaneEndpointsConfig().GetIpEndpointsConfig(); ip != nil && ip.GlobalAccess != nil {
		global = ip.GlobalAccess
	}
	var dnsExternal *bool
	if dns := u.GetDesiredControlPlaneEndpointsConfig().GetDnsEndpointConfig(); dns != nil && dns.AllowExternalTraffic != nil {
		dnsExternal = dns.AllowExternalTraffic
	}
	rest := proto.Clone(u).(*containerpb.ClusterUpdate)
	rest.DesiredMasterAuthorizedNetworksConfig, rest.DesiredControlPlaneEndpointsConfig = nil, nil
	if pc := rest.DesiredPrivateClusterConfig; pc != nil {
		pc.MasterGlobalAccessConfig = nil
		if proto.Size(pc) == 0 {
			rest.DesiredPrivateClusterConfig = nil
		}
	}
	if (an == nil && global == nil && dnsExternal == nil) || proto.Size(rest) != 0 {
		writeError(w, http.StatusBadRequest, "invalid", "The lab's clusters.update takes the master authorized networks (desiredMasterAuthorizedNetworksConfig or desiredControlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig), control plane global access (desiredPrivateClusterConfig.masterGlobalAccessConfig or desiredControlPlaneEndpointsConfig.ipEndpointsConfig.globalAccess) and the DNS endpoint's desiredControlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic only.")
		return
	}
	var err error
	if an != nil {
		err = s.setAuthorized(r.Context(), an)
	}
	if err == nil && global != nil {
		err = s.cloud.SetMasterGlobalAccess(r.Context(), *global)
	}
	if err == nil && dnsExternal != nil {
		err = s.cloud.SetDNSEndpointExternalTraffic(r.Context(), *dnsExternal)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	op := s.newContainerOp(location, containerpb.Operation_UPDATE_CLUSTER, name, containerpb.Operation_RUNNING)
	finishContainerOp(op, err)
	writeProto(w, http.StatusOK, op)
}

// containerOperation serves operations.get of the container API.
func (s *Server) containerOperation(w http.ResponseWriter, p []string) {
	s.mu.Lock()
	op, ok := s.containerOps[p[4]]
	s.mu.Unlock()
	if !ok || p[0] != s.project {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: projects/%s/locations/%s/operations/%s.", p[0], p[2], p[4]))
		return
	}
	writeProto(w, http.StatusOK, op)
}

// setAuthorized replaces the master authorized networks with an; a field an leaves out keeps
// its value.
func (s *Server) setAuthorized(ctx context.Context, an *containerpb.MasterAuthorizedNetworksConfig) error {
	cur, err := s.cloud.GetAuthorizedNetworks(ctx)
	if err != nil {
		return err
	}
	want := cloud.AuthorizedNetworks{Enabled: an.GetEnabled(), PrivateEndpointEnforcement: cur.PrivateEndpointEnforcement}
	if an.PrivateEndpointEnforcementEnabled != nil {
		want.PrivateEndpointEnforcement = an.GetPrivateEndpointEnforcementEnabled()
	}
	for _, b := range an.GetCidrBlocks() {
		p, err := netip.ParsePrefix(b.GetCidrBlock())
		if err != nil {
			return fmt.Errorf("invalid master authorized networks CIDR block %q", b.GetCidrBlock())
		}
		want.CIDRBlocks = append(want.CIDRBlocks, p)
	}
	return s.cloud.SetAuthorizedNetworks(ctx, want)
}
