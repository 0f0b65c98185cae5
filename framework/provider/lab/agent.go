package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"reachgate/framework/cloud"
	"reachgate/framework/provider"
	labcloud "reachgate/lab/cloud"
)

var (
	_ provider.AgentSource         = (*Environment)(nil)
	_ provider.PartnerInterconnect = (*Environment)(nil)
	_ provider.ThirdPartyVPN       = (*Environment)(nil)
)

// ConnectThirdPartyVPN implements provider.ThirdPartyVPN: the lab's third-party side takes
// the tunnels of an HA VPN gateway its API inserted (nothing to do for a gateway the topology
// file declares with both ends).
func (e *Environment) ConnectThirdPartyVPN(ctx context.Context, v cloud.ThirdPartyVPN) error {
	return labcloud.Lab{L: e.lab, Self: e.self, Log: e.log}.ConnectVPN(ctx, v)
}

// DisconnectThirdPartyVPN implements provider.ThirdPartyVPN.
func (e *Environment) DisconnectThirdPartyVPN(ctx context.Context, link string) error {
	return labcloud.Lab{L: e.lab, Self: e.self, Log: e.log}.DisconnectVPN(ctx, link)
}

// ConnectPartner implements provider.PartnerInterconnect: the lab, as the partner of its
// third-party side, connects the attachment with the pairing key to vpc.
func (e *Environment) ConnectPartner(ctx context.Context, pairingKey, vpc string) error {
	return labcloud.Lab{L: e.lab, Self: e.self, Log: e.log}.ConnectPartner(ctx, pairingKey, vpc)
}

// AgentSource implements provider.AgentSource: the reachgate binary the lab runs, as a
// file:// URL (the lab's instances share its filesystem, as VMs of an image with the agent
// baked in would), and its SHA-256, computed once.
func (e *Environment) AgentSource(context.Context) (string, string, error) {
	e.agentOnce.Do(func() {
		path, err := filepath.Abs(e.self)
		if err != nil {
			e.agentErr = err
			return
		}
		f, err := os.Open(path)
		if err != nil {
			e.agentErr = fmt.Errorf("the agent binary: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			e.agentErr = fmt.Errorf("the agent binary: %w", err)
			return
		}
		e.agentURL, e.agentSum = "file://"+path, hex.EncodeToString(h.Sum(nil))
	})
	return e.agentURL, e.agentSum, e.agentErr
}
