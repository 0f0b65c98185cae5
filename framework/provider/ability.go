package provider

import (
	"fmt"
	"reflect"
)

// abilityTexts says what a provider without each ability cannot do, for skip reasons.
var abilityTexts = map[reflect.Type]string{
	reflect.TypeFor[Explainer]():            "explain reachability from a network model",
	reflect.TypeFor[LogSource]():            "hand over its components' logs",
	reflect.TypeFor[Listener]():             "listen at a host",
	reflect.TypeFor[CloudAccess]():          "hand out its cloud API",
	reflect.TypeFor[VPNCloud]():             "manage HA VPN, Cloud Router, peering and authorized networks",
	reflect.TypeFor[EndpointCloud]():        "change who may reach the control plane endpoint (authorized networks, global access, router advertisements)",
	reflect.TypeFor[DNSEndpointCloud]():     "change the DNS-based endpoint, IAM's cluster connect bindings and the third-party VPC's private DNS zones",
	reflect.TypeFor[DNSEndpointExplainer](): "explain the DNS-based endpoint's reachability from a network model",
	reflect.TypeFor[WANEmulator]():          "emulate a WAN profile on a link",
	reflect.TypeFor[TunnelFaults]():         "cut and restore a VPN tunnel's underlay",
	reflect.TypeFor[KubeAdmin]():            "reach the cluster's API server as an administrator",
	reflect.TypeFor[FilePlacer]():           "put a file on a host",
	reflect.TypeFor[Operator]():             "run gcloud configured for its project",
	reflect.TypeFor[GCPAPI]():               "hand out its project's compute and container APIs",
	reflect.TypeFor[AgentSource]():          "hand a VM reachgate's agent",
	reflect.TypeFor[PartnerInterconnect]():  "connect a Partner Interconnect attachment to its third-party cloud",
	reflect.TypeFor[ProjectNames]():         "name the topology's objects as its project does",
	reflect.TypeFor[ThirdPartyVPN]():        "configure the third-party cloud's end of an HA VPN",
	reflect.TypeFor[ProjectThirdParty]():    "say whether the third-party cloud is part of its project",
	reflect.TypeFor[PodKiller]():            "kill a pod's containers",
	reflect.TypeFor[PodNetwork]():           "act inside a pod's network",
	reflect.TypeFor[Inventory]():            "list what the environment runs",
	reflect.TypeFor[ManagedServices]():      "describe its managed service instances (Memorystore for Redis)",
	reflect.TypeFor[Attacher]():             "attach to an environment that is already provisioned",
	reflect.TypeFor[Prioritizer]():          "raise its processes' CPU priority while a spec measures",
}

// AbilityText says what a provider lacking the ability T cannot do, with T's name:
// "explain reachability from a network model (provider.Explainer is not implemented)".
func AbilityText[T any]() string {
	t := reflect.TypeFor[T]()
	what, ok := abilityTexts[t]
	if !ok {
		what = "do what " + t.String() + " offers"
	}
	return fmt.Sprintf("%s (%s is not implemented)", what, t)
}
