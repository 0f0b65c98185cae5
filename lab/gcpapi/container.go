package gcpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"
)

// container serves p = [project, "locations", location, "clusters", name].
func (s *Server) container(w http.ResponseWriter, r *http.Request, p []string) {
	if len(p) != 5 || p[1] != "locations" || p[3] != "clusters" || r.Method != http.MethodGet {
		writeError(w, http.StatusNotFound, "notFound", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	d, err := s.cloud.Cluster(r.Context())
	if err != nil || p[0] != s.project || d.Name != p[4] || (p[2] != d.Location && p[2] != "-") {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: projects/%s/locations/%s/clusters/%s.", p[0], p[2], p[4]))
		return
	}
	an, err := s.cloud.GetAuthorizedNetworks(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internalError", err.Error())
		return
	}
	version := ""
	if c := s.cloud.L.Topology.Cluster; c != nil {
		version = strings.TrimPrefix(c.KubernetesVersion, "v")
	}
	authorized := &containerpb.MasterAuthorizedNetworksConfig{Enabled: an.Enabled,
		PrivateEndpointEnforcementEnabled: proto.Bool(an.PrivateEndpointEnforcement)}
	for _, b := range an.CIDRBlocks {
		authorized.CidrBlocks = append(authorized.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{CidrBlock: b.String()})
	}
	ep := d.PrivateEndpoint.String()
	out := &containerpb.Cluster{
		Name: d.Name, Location: d.Location, Network: d.Network, Subnetwork: d.Subnetwork,
		Endpoint: ep, CurrentMasterVersion: version, CurrentNodeVersion: version,
		Status:     containerpb.Cluster_RUNNING,
		SelfLink:   s.base + "/v1/projects/" + s.project + "/locations/" + d.Location + "/clusters/" + d.Name,
		MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: encodeCA(d.CAPEM)},
		PrivateClusterConfig: &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, EnablePrivateEndpoint: true,
			MasterIpv4CidrBlock: d.MasterCIDR.String(), PrivateEndpoint: ep, PeeringName: d.PeeringName},
		// GKE keeps the two authorized-networks fields in sync; both are served.
		MasterAuthorizedNetworksConfig: authorized,
		ControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
			Enabled: proto.Bool(true), EnablePublicEndpoint: proto.Bool(false), PrivateEndpoint: ep, AuthorizedNetworksConfig: authorized}},
	}
	writeProto(w, http.StatusOK, out)
}

// encodeCA is masterAuth.clusterCaCertificate: the PEM, base64-encoded.
func encodeCA(pem []byte) string { return base64.StdEncoding.EncodeToString(pem) }
