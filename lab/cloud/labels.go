package cloud

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"reachgate/lab"
	"reachgate/lab/netns"
)

// SetLabels replaces a resource's labels (compute's setLabels): addresses, vpnGateways,
// externalVpnGateways or vpnTunnels, by collection and name (region for regional ones). Labels
// change nothing on the network, so nothing is reconciled.
func (c Lab) SetLabels(_ context.Context, collection, region, name string, labels map[string]string) error {
	labels = maps.Clone(labels)
	if collection == "addresses" {
		var err error
		lockErr := c.L.State.Update(func(*netns.State) error {
			as, lerr := c.addresses()
			if lerr != nil {
				return lerr
			}
			for i, a := range as {
				if a.Name == name && strings.EqualFold(a.Region, region) {
					as[i].Labels = labels
					return c.saveAddresses(as)
				}
			}
			err = fmt.Errorf("address %s/%s does not exist", region, name)
			return nil
		})
		if lockErr != nil {
			return lockErr
		}
		return err
	}
	return c.L.UpdateCloud(func(cs *lab.CloudState) error {
		switch collection {
		case "vpnGateways":
			if g, ok := cs.VPNGateways[name]; ok {
				g.Labels = labels
				cs.VPNGateways[name] = g
				return nil
			}
		case "externalVpnGateways":
			if g, ok := cs.ExternalGateways[name]; ok {
				g.Labels = labels
				cs.ExternalGateways[name] = g
				return nil
			}
		case "vpnTunnels":
			if t, ok := cs.Tunnels[name]; ok {
				t.Labels = labels
				cs.Tunnels[name] = t
				return nil
			}
		default:
			return fmt.Errorf("%s have no labels in the lab", collection)
		}
		return fmt.Errorf("%s %q does not exist", collection, name)
	})
}
