package controlplane

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig is what a single-context kubeconfig file holds.
type Kubeconfig struct {
	Cluster       string
	Server        string
	CA            []byte
	TLSServerName string
	User          string
	ClientCert    []byte
	ClientKey     []byte
	Token         string
}

// WriteKubeconfig writes a kubeconfig with one cluster, user and current context (mode 0600).
func WriteKubeconfig(path string, k Kubeconfig) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[k.Cluster] = &clientcmdapi.Cluster{
		Server: k.Server, CertificateAuthorityData: k.CA, TLSServerName: k.TLSServerName,
	}
	cfg.AuthInfos[k.User] = &clientcmdapi.AuthInfo{
		ClientCertificateData: k.ClientCert, ClientKeyData: k.ClientKey, Token: k.Token,
	}
	ctxName := k.User + "@" + k.Cluster
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: k.Cluster, AuthInfo: k.User}
	cfg.CurrentContext = ctxName
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}
