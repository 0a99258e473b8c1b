// Package bootstrap brings clusters up over SSH: phases declared as data, run
// in order by a small runner with a journal (so a re-run verifies and skips
// finished work and a killed run resumes), each remote change behind a
// dry-run guard.
package bootstrap

// Where things live on the hosts.
const (
	// EtcdPKIDir holds an etcd host's own certificates. It is not under
	// /etc/kubernetes/pki, which `kubeadm reset` deletes wholesale.
	EtcdPKIDir   = "/etc/etcd/pki"
	EtcdBinary   = "/usr/local/bin/etcd"
	EtcdCtl      = "/usr/local/bin/etcdctl"
	EtcdUnitPath = "/etc/systemd/system/etcd.service"
	EtcdUnitName = "etcd.service"
	// EtcdInitialEnvPath says how a member first joined (see RenderEtcdUnit).
	EtcdInitialEnvPath = "/etc/etcd/initial-cluster.env"
	EtcdUtl            = "/usr/local/bin/etcdutl"

	// Where kubeadm expects the external etcd's CA and its client cert.
	KubePKIDir         = "/etc/kubernetes/pki"
	KubeEtcdCA         = KubePKIDir + "/etcd/ca.crt"
	KubeEtcdClientCert = KubePKIDir + "/apiserver-etcd-client.crt"
	KubeEtcdClientKey  = KubePKIDir + "/apiserver-etcd-client.key"

	// KubeadmConfigPath is the configuration kbs writes for kubeadm init.
	KubeadmConfigPath = "/etc/kbs/kubeadm.yaml"

	EtcdClientPort = 2379
	EtcdPeerPort   = 2380
)
