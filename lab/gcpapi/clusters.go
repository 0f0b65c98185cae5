package gcpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/cloud"
	"reachgate/lab"
)

// clusters.create and clusters.delete: a private, peering-based cluster in a VPC the API
// inserted (lab/cloud's InsertCluster realizes it). Both answer a RUNNING operation at once and
// finish in the background, as GKE's do; the request is checked before the operation starts,
// so a bad one is a 400 with the field named.

// clusterNameRE is GKE's rule for a cluster name: lower case letters, digits and hyphens, a
// letter first, not a hyphen last, at most 40 characters.
var clusterNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)

// defaultNodeCount is GKE's initialNodeCount when a request gives none.
const defaultNodeCount = 3

func (s *Server) createCluster(w http.ResponseWriter, r *http.Request, location string) {
	var in containerpb.CreateClusterRequest
	if !decode(w, r, &in) {
		return
	}
	c := in.GetCluster()
	bad := func(format string, a ...any) {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf(format, a...))
	}
	pc, policy := c.GetPrivateClusterConfig(), c.GetIpAllocationPolicy()
	nodes := c.GetInitialNodeCount()
	for _, p := range c.GetNodePools() {
		nodes += p.GetInitialNodeCount()
	}
	if nodes == 0 {
		nodes = defaultNodeCount
	}
	master, err := netip.ParsePrefix(pc.GetMasterIpv4CidrBlock())
	switch {
	case !clusterNameRE.MatchString(c.GetName()):
		bad("Invalid value for field 'cluster.name': %q. Must be 1-40 characters: lower case letters, digits and hyphens, starting with a letter and not ending with a hyphen.", c.GetName())
	case c.GetNetwork() == "" || c.GetSubnetwork() == "":
		bad("cluster.network and cluster.subnetwork are required: the lab creates clusters in a VPC and subnet the API inserted.")
	case !pc.GetEnablePrivateNodes():
		bad("cluster.privateClusterConfig.enablePrivateNodes must be true: the lab creates private clusters only.")
	case pc.GetMasterIpv4CidrBlock() == "" || pc.GetPrivateEndpointSubnetwork() != "":
		// GKE 1.29 and later make a cluster without a master range Private Service Connect-based,
		// with no peering: the lab's clusters.create makes the peering-based kind only.
		bad("cluster.privateClusterConfig.masterIpv4CidrBlock is required: without it GKE creates a Private Service Connect-based cluster (no peering), and the lab creates peering-based clusters only.")
	case err != nil:
		bad("Invalid value for field 'cluster.privateClusterConfig.masterIpv4CidrBlock': %q is not a CIDR block.", pc.GetMasterIpv4CidrBlock())
	case !policy.GetUseIpAliases() || policy.GetClusterSecondaryRangeName() == "" || policy.GetServicesSecondaryRangeName() == "":
		bad("cluster.ipAllocationPolicy must set useIpAliases and name the subnet's secondary ranges (clusterSecondaryRangeName, servicesSecondaryRangeName): the lab creates VPC-native clusters only.")
	default:
		if !checkLabels(w, c.GetResourceLabels()) {
			return
		}
		var authorized *cloud.AuthorizedNetworks
		if an := c.GetMasterAuthorizedNetworksConfig(); an.GetEnabled() {
			authorized = &cloud.AuthorizedNetworks{Enabled: true, PrivateEndpointEnforcement: an.GetPrivateEndpointEnforcementEnabled()}
			for _, b := range an.GetCidrBlocks() {
				p, err := netip.ParsePrefix(b.GetCidrBlock())
				if err != nil {
					bad("Invalid value for field 'cluster.masterAuthorizedNetworksConfig.cidrBlocks': %q is not a CIDR block.", b.GetCidrBlock())
					return
				}
				authorized.CIDRBlocks = append(authorized.CIDRBlocks, p)
			}
		}
		want := lab.APICluster{Name: c.GetName(), Location: location, Network: lastSegment(c.GetNetwork()), Subnet: lastSegment(c.GetSubnetwork()),
			PodRange: policy.GetClusterSecondaryRangeName(), ServiceRange: policy.GetServicesSecondaryRangeName(), MasterCIDR: master,
			Labels: c.GetResourceLabels(), Description: c.GetDescription(), Created: time.Now().UTC()}
		writeProto(w, http.StatusOK, s.startContainerOperation(location, containerpb.Operation_CREATE_CLUSTER, c.GetName(), func() error {
			_, err := s.cloud.InsertCluster(context.Background(), want, int(nodes), authorized)
			return err
		}))
	}
}

func (s *Server) deleteCluster(w http.ResponseWriter, location, name string) {
	writeProto(w, http.StatusOK, s.startContainerOperation(location, containerpb.Operation_DELETE_CLUSTER, name, func() error {
		return s.cloud.DeleteCluster(context.Background(), location, name)
	}))
}

// newContainerOp records a container operation on cluster; the caller holds s.mu.
func (s *Server) newContainerOp(location string, kind containerpb.Operation_Type, cluster string, st containerpb.Operation_Status) *containerpb.Operation {
	s.nextID++
	now := time.Now().UTC().Format(time.RFC3339Nano)
	op := &containerpb.Operation{Name: fmt.Sprintf("operation-%d-%d", time.Now().UnixMilli(), s.nextID), Location: location, Zone: location,
		OperationType: kind, Status: st, StartTime: now,
		TargetLink: s.base + "/v1/projects/" + s.project + "/locations/" + location + "/clusters/" + cluster}
	op.SelfLink = s.base + "/v1/projects/" + s.project + "/locations/" + location + "/operations/" + op.Name
	s.containerOps[op.Name] = op
	return op
}

// finishContainerOp marks op DONE, with err as its error; the caller holds s.mu.
func finishContainerOp(op *containerpb.Operation, err error) {
	op.Status, op.EndTime = containerpb.Operation_DONE, time.Now().UTC().Format(time.RFC3339Nano)
	if err != nil {
		op.Error = &status.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
		op.StatusMessage = err.Error()
	}
}

// startContainerOperation answers a RUNNING operation and runs do in the background, with the
// lab to itself; the operation is DONE, with do's error, when do returns.
func (s *Server) startContainerOperation(location string, kind containerpb.Operation_Type, cluster string, do func() error) *containerpb.Operation {
	s.mu.Lock()
	op := s.newContainerOp(location, kind, cluster, containerpb.Operation_RUNNING)
	out := proto.Clone(op).(*containerpb.Operation)
	s.mu.Unlock()
	go func() {
		s.labMu.Lock()
		err := s.cloud.L.Refresh()
		if err == nil {
			err = s.apply(do)
		}
		s.labMu.Unlock()
		s.mu.Lock()
		finishContainerOp(op, err)
		s.mu.Unlock()
	}()
	s.release()
	return out
}
