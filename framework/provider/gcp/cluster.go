package gcp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"reachgate/framework/topology"
)

// masterCIDR is the cluster's master range: the topology's, or its master VPC's one subnet.
func masterCIDR(t *topology.Topology) netip.Prefix {
	cl := t.Cluster
	if cl.MasterCIDR.IsValid() {
		return cl.MasterCIDR
	}
	if n := t.Network(cl.MasterVPC); n != nil && len(n.Subnets) == 1 {
		return n.Subnets[0].CIDR
	}
	return netip.Prefix{}
}

// createCluster makes the topology's cluster a private, peering-based, VPC-native GKE cluster
// (clusters.create with the master range; the pods and services in the subnet's secondary
// ranges; a node per node host), waits for it, and checks that GKE peered it: since GKE 1.29
// a cluster without a master range is Private Service Connect-based, and a solution that
// exports routes over the peering (bgp-export) would have nothing to export them over.
func (c *Cloud) createCluster(ctx context.Context, t *topology.Topology, run string) (*ProvisionedCluster, error) {
	cl := t.Cluster
	sub := t.Network(cl.VPC).Subnet(cl.Subnet)
	rangeName := func(p netip.Prefix) string {
		i := slices.IndexFunc(sub.Secondary, func(r topology.NamedRange) bool { return r.CIDR == p })
		if i < 0 {
			return ""
		}
		return sub.Secondary[i].Name
	}
	name := ResourceName(run, cl.Name)
	authorized := &containerpb.MasterAuthorizedNetworksConfig{}
	if a := cl.Authorized; a != nil {
		authorized.Enabled, authorized.PrivateEndpointEnforcementEnabled = true, proto.Bool(a.PrivateEndpointEnforcement)
		for _, b := range a.CIDRBlocks {
			authorized.CidrBlocks = append(authorized.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{CidrBlock: b.String()})
		}
	}
	req := &containerpb.Cluster{
		Name: name, Description: Description(run), ResourceLabels: map[string]string{RunLabel: run},
		Network: ResourceName(run, cl.VPC), Subnetwork: ResourceName(run, cl.VPC+"-"+cl.Subnet),
		NodePools: []*containerpb.NodePool{{Name: "default-pool", InitialNodeCount: int32(max(1, len(cl.Nodes))),
			Config: &containerpb.NodeConfig{MachineType: "e2-medium", DiskSizeGb: 30,
				ResourceLabels: map[string]string{RunLabel: run}}}},
		PrivateClusterConfig: &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, EnablePrivateEndpoint: true,
			MasterIpv4CidrBlock: masterCIDR(t).String()},
		IpAllocationPolicy: &containerpb.IPAllocationPolicy{UseIpAliases: true,
			ClusterSecondaryRangeName: rangeName(cl.PodRange), ServicesSecondaryRangeName: rangeName(cl.ServiceRange)},
		MasterAuthorizedNetworksConfig: authorized,
	}
	parent := fmt.Sprintf("projects/%s/locations/%s", c.cfg.Project, cl.Location)
	var op *containerpb.Operation
	err := retry(ctx, func() (err error) {
		op, err = c.clusters.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: req})
		return err
	})
	if err != nil {
		return nil, wrap("create cluster "+name, err)
	}
	if err := c.waitContainer(ctx, cl.Location, op); err != nil {
		return nil, err
	}
	var got *containerpb.Cluster
	err = retry(ctx, func() (err error) {
		got, err = c.clusters.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/" + name})
		return err
	})
	if err != nil {
		return nil, wrap("get cluster "+name, err)
	}
	peering := got.GetPrivateClusterConfig().GetPeeringName()
	if peering == "" {
		return nil, fmt.Errorf("cluster %s came up without a VPC peering (privateClusterConfig.peeringName is empty): GKE made it Private Service Connect-based, so there is no peering to export the master range over; the request gave masterIpv4CidrBlock %s, so check the GKE version's defaults", name, req.PrivateClusterConfig.MasterIpv4CidrBlock)
	}
	out := &ProvisionedCluster{Name: name, Location: cl.Location, Peering: peering}
	out.Nodes, err = c.clusterNodes(ctx, name)
	return out, err
}

// clusterNodes names the cluster's node VMs (GKE labels them goog-k8s-cluster-name), sorted.
func (c *Cloud) clusterNodes(ctx context.Context, cluster string) ([]string, error) {
	var out []string
	err := c.eachInstance(ctx, func(zone string, in *computepb.Instance) {
		if in.GetLabels()["goog-k8s-cluster-name"] == cluster {
			out = append(out, in.GetName())
		}
	})
	slices.Sort(out)
	return out, err
}
