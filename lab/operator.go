package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"reachgate/framework/topology"
	"reachgate/lab/netns"
)

// The operator is where a platform engineer stands: a namespace of the lab (the topology's
// host named "operator", or one with only a loopback when there is none) in which the lab's
// GCP API listens, so gcloud run there (`reachgate lab exec operator -- gcloud …`) drives the
// lab as it drives a project. The API process itself runs in the host's namespace, like the
// lab's other daemons; only its listening socket lives in the operator's namespace.

// OperatorHost names the operator's position in `lab exec` and the lab's state.
const OperatorHost = "operator"

// APIAddr is where the lab's GCP API listens in the operator's namespace.
const APIAddr = "127.0.0.1:8780"

// APIProcess names the API's process in the lab's state.
const APIProcess = "gcpapi"

// Project is the project ID the lab's GCP API serves.
func Project(lab string) string { return "reachgate-" + lab }

// APIEndpoint returns the lab's GCP API as the clients' endpoint ("http://127.0.0.1:8780")
// and the namespace it listens in; ok is false when the lab serves no API.
func (l *Lab) APIEndpoint() (endpoint, ns string, ok bool) {
	h, ok := l.State.Hosts[OperatorHost]
	if !ok || h.API == "" {
		return "", "", false
	}
	return h.API, h.Namespace, true
}

// startAPI gives the lab its operator position and starts its GCP API there
// (`reachgate lab serve-api`), waiting until it accepts connections.
func (l *Lab) startAPI(ctx context.Context, self string, log *slog.Logger) error {
	ns, ok := l.Plan.Hosts[OperatorHost]
	if h, up := l.State.Hosts[OperatorHost]; up && h.Namespace != "" {
		ns, ok = h.Namespace, true // restarting: the namespace is there
	}
	if !ok {
		ns = netns.NamespaceName(l.State.Name, "h", OperatorHost)
		if err := l.State.AddIsolated(ctx, ns); err != nil {
			return fmt.Errorf("operator namespace: %w", err)
		}
	}
	dir := l.State.Path("hosts", OperatorHost)
	if err := os.MkdirAll(filepath.Join(dir, "gcloud"), 0o700); err != nil {
		return err
	}
	if err := l.State.Update(func(s *netns.State) error {
		h := s.Hosts[OperatorHost]
		h.Namespace, h.API = ns, "http://"+APIAddr
		if h.Role == "" {
			h.Role = OperatorHost
		}
		s.Hosts[OperatorHost] = h
		return nil
	}); err != nil {
		return err
	}
	p, err := l.State.Start(netns.StartSpec{Name: APIProcess, Path: self,
		Args: []string{"lab", "serve-api", "--name", l.State.Name, "--netns", ns, "--listen", APIAddr},
		Env:  []string{"REACHGATE_STATE_DIR=" + netns.StateRoot()}})
	if err != nil {
		return err
	}
	if err := waitListening(ctx, ns, "tcp", APIAddr, p); err != nil {
		return fmt.Errorf("the lab's GCP API: %w", err)
	}
	log.Info("GCP API up", "at", "http://"+APIAddr, "namespace", ns, "project", Project(l.State.Name), "pid", p.PID)
	return nil
}

// OperatorEnv is the environment of a shell at the operator's position: gcloud pointed at the
// lab's GCP API (compute and container endpoint overrides, the lab's project and region, no
// credentials, no metadata server probe, a configuration directory of the lab's own), and
// KUBECONFIG where `gcloud container clusters get-credentials` writes.
func (l *Lab) OperatorEnv() []string {
	endpoint, _, ok := l.APIEndpoint()
	if !ok {
		return nil
	}
	dir := l.State.Path("hosts", OperatorHost)
	env := []string{
		"CLOUDSDK_CONFIG=" + filepath.Join(dir, "gcloud"),
		"CLOUDSDK_CORE_PROJECT=" + Project(l.State.Name),
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=" + endpoint + "/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=" + endpoint + "/",
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"KUBECONFIG=" + filepath.Join(dir, "kubeconfig"),
	}
	if c := l.Current.Cluster; c != nil {
		env = append(env, "CLOUDSDK_COMPUTE_REGION="+topology.RegionOf(c.Location))
	}
	return env
}

// ListenAPI opens the API's listener inside the operator's namespace.
func ListenAPI(ns, addr string) (net.Listener, error) { return netns.Listen(ns, "tcp", addr) }
