// Package solution holds what the solutions (ilbproxy, bgpexport, pscendpoint) share: reaching
// an environment's cluster as an administrator and its cloud.
package solution

import (
	"errors"

	"k8s.io/client-go/kubernetes"

	"reachgate/framework/provider"
)

// Clients returns an admin clientset for env's cluster and env's cloud.
func Clients(env provider.Environment) (kubernetes.Interface, provider.Cloud, error) {
	ka, ok := env.(provider.KubeAdmin)
	if !ok {
		return nil, nil, errors.New("the provider gives no admin access to the cluster")
	}
	ca, ok := env.(provider.CloudAccess)
	if !ok {
		return nil, nil, errors.New("the provider has no cloud API")
	}
	cfg, err := ka.AdminConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, ca.Cloud(), err
}

// CloudWith is Clients with the cloud's ability T, which the solution needs (missing says
// what T does, for the error).
func CloudWith[T any](env provider.Environment, missing string) (kubernetes.Interface, provider.Cloud, T, error) {
	var zero T
	cs, cl, err := Clients(env)
	if err != nil {
		return nil, nil, zero, err
	}
	t, ok := cl.(T)
	if !ok {
		return nil, nil, zero, errors.New(missing)
	}
	return cs, cl, t, nil
}
