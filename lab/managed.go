package lab

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"reachgate/framework/cloud"
	"reachgate/framework/topology"
	"reachgate/lab/netns"
	"reachgate/lab/redis"
)

// The lab's managed services are Memorystore for Redis instances: each managed-service host
// of the topology (in a servicenetworking producer VPC) runs a system redis-server in its
// namespace (lab/redis), reached from the consumer VPC over the servicenetworking peering.

// redisInstance returns the instance of a managed-service host.
func (l *Lab) redisInstance(m *topology.Machine) (redis.Instance, error) {
	return redis.FromMachine(m, l.State.Path("hosts", m.Name, "redis"),
		l.State.Path("logs", redis.ProcessName(m.Name)+".log"))
}

// managedHosts are the topology's managed-service hosts.
func (l *Lab) managedHosts() []*topology.Machine {
	var out []*topology.Machine
	for _, h := range l.Topology.Hosts {
		if h.Role == topology.RoleManagedService {
			out = append(out, h)
		}
	}
	return out
}

// startManagedServices starts the redis-server of every managed-service host that does not run
// yet, and checks that those running answer.
func (l *Lab) startManagedServices(ctx context.Context, log *slog.Logger) error {
	for _, h := range l.managedHosts() {
		i, err := l.redisInstance(h)
		if err != nil {
			return err
		}
		ns, err := l.Namespace(h.Name)
		if err != nil {
			return err
		}
		if _, err := redis.Start(ctx, l.State, ns, i, log); err != nil {
			return err
		}
	}
	return nil
}

// ManagedService describes a managed-service host's instance as Memorystore's API does (host,
// port, serverCaCerts, transit encryption, the AUTH string), from the instance's files.
func (l *Lab) ManagedService(host string) (cloud.ManagedService, error) {
	m := l.Topology.Host(host)
	if m == nil {
		return cloud.ManagedService{}, fmt.Errorf("lab %s has no host %q (hosts: %s)", l.State.Name, host, l.hostNames())
	}
	if m.Role != topology.RoleManagedService {
		var names []string
		for _, h := range l.managedHosts() {
			names = append(names, h.Name)
		}
		return cloud.ManagedService{}, fmt.Errorf("host %s of lab %s has role %s, not %s (managed-service hosts: %s)",
			host, l.State.Name, m.Role, topology.RoleManagedService, orNone(names))
	}
	i, err := l.redisInstance(m)
	if err != nil {
		return cloud.ManagedService{}, err
	}
	cred, err := redis.Read(i)
	if err != nil {
		return cloud.ManagedService{}, err
	}
	return cloud.ManagedService{Name: host, Kind: m.Service.Kind, Host: i.IP, Port: i.Port(), TLS: i.TLS,
		CAPEM: cred.CAPEM, Auth: cred.Auth}, nil
}

// ManagedServiceStatus is one instance in `lab status`: never its AUTH string.
type ManagedServiceStatus struct {
	Host    string `json:"host"`
	Kind    string `json:"kind"`
	Address string `json:"address"` // ip:port
	TLS     bool   `json:"tls"`
	Auth    bool   `json:"auth"`
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	Log     string `json:"log,omitempty"`
}

// ManagedServices returns the status of the lab's managed service instances, by host.
func (l *Lab) ManagedServices() []ManagedServiceStatus {
	var out []ManagedServiceStatus
	for _, h := range l.managedHosts() {
		s := ManagedServiceStatus{Host: h.Name}
		if h.Service != nil {
			s.Kind, s.TLS, s.Auth = h.Service.Kind, h.Service.TLS, h.Service.Auth
			s.Address = fmt.Sprintf("%s:%d", h.IP, h.Service.Port())
		}
		for _, p := range l.State.Processes {
			if p.Name == redis.ProcessName(h.Name) {
				s.PID, s.Running, s.Log = p.PID, p.Running(), p.Log
			}
		}
		out = append(out, s)
	}
	return out
}

// restartableDown reports whether the lab is up but for daemons `lab up` restarts in place —
// its GCP API, Google API front end and resolvers (when it can start them: canAPI) and redis
// instances — which exited. What they
// serve lives in the lab's state (the cloud, the instances' CA and AUTH string), not in their
// processes, so it stays.
func restartableDown(st *netns.State, canAPI bool) bool {
	if st.Phase != netns.PhaseUp {
		return false
	}
	down := 0
	for _, p := range st.Processes {
		if p.Running() {
			continue
		}
		switch {
		case (p.Name == APIProcess || googleAPIsDaemon(p.Name)) && canAPI, redis.IsProcess(p.Name):
			down++
		default:
			return false
		}
	}
	return down > 0
}

// restartDaemons forgets the lab's exited API and redis processes and starts them again.
func (l *Lab) restartDaemons(ctx context.Context, self string, log *slog.Logger) error {
	var gone []netns.Process
	api, apis := false, false
	for _, p := range l.State.Processes {
		if !p.Running() && (p.Name == APIProcess || googleAPIsDaemon(p.Name) || redis.IsProcess(p.Name)) {
			gone = append(gone, p)
			api = api || p.Name == APIProcess
			apis = apis || googleAPIsDaemon(p.Name)
		}
	}
	if err := l.State.Forget(gone, nil); err != nil {
		return err
	}
	if api {
		log.Info("restarting the lab's GCP API (it had exited)", "lab", l.State.Name)
		if err := l.startAPI(ctx, self, log); err != nil {
			return err
		}
	}
	if apis {
		log.Info("restarting the lab's Google API front end and resolvers (one had exited)", "lab", l.State.Name)
		if err := l.startGoogleAPIs(ctx, self, log); err != nil {
			return err
		}
	}
	return l.startManagedServices(ctx, log)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
