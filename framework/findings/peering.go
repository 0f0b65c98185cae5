package findings

import (
	"fmt"
	"strings"
)

// Peering is the customer side of a private cluster's VPC peering (the one named in
// privateClusterConfig.peeringName) as the cloud reports it: Networks.Get().peerings and
// Networks.ListPeeringRoutes(direction INCOMING).
type Peering struct {
	Network            string // the customer VPC
	Name               string // e.g. gke-n…-peer
	ImportCustomRoutes bool
	// ImportedCustom are the destination ranges of the static and dynamic routes imported
	// over the peering: all that importCustomRoutes brings in.
	ImportedCustom []string
}

// DetectPeeringImport reports RG-PEER-001 when the customer side of the GKE peering imports
// custom routes; the evidence says what the import actually brings in.
func DetectPeeringImport(ev Peering) []Finding {
	if !ev.ImportCustomRoutes {
		return nil
	}
	brings := "no custom route is imported over it"
	if len(ev.ImportedCustom) > 0 {
		brings = "custom routes imported over it: " + strings.Join(ev.ImportedCustom, ", ")
	}
	return []Finding{New("RG-PEER-001", Evidence{Text: fmt.Sprintf("peering %s of network %s has importCustomRoutes=true; %s", ev.Name, ev.Network, brings)},
		"peering %s of network %s imports custom routes, which bgp-export does not need", ev.Name, ev.Network)}
}
