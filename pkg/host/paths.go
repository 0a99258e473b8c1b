package host

// Where kubeadm keeps a node's PKI, and where it expects the external etcd's
// CA and the API server's etcd client certificate.
const (
	KubePKIDir         = "/etc/kubernetes/pki"
	KubeEtcdCA         = KubePKIDir + "/etcd/ca.crt"
	KubeEtcdClientCert = KubePKIDir + "/apiserver-etcd-client.crt"
	KubeEtcdClientKey  = KubePKIDir + "/apiserver-etcd-client.key"
)
