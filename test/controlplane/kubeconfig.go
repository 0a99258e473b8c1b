package controlplane

import (
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// writeKubeconfig writes a kubeconfig for one user of this control plane,
// with certificate data embedded, and returns it as a rest.Config.
func writeKubeconfig(path, server, caFile string, user *pki.KeyPair) (*rest.Config, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kbs-test"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: user.CertPEM, ClientKeyData: user.KeyPEM}
	cfg.Contexts["kbs-test"] = &clientcmdapi.Context{Cluster: "kbs-test", AuthInfo: "user"}
	cfg.CurrentContext = "kbs-test"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(path, data, pki.KeyFileMode); err != nil {
		return nil, err
	}
	return clientcmd.NewNonInteractiveClientConfig(*cfg, "kbs-test", nil, nil).ClientConfig()
}
