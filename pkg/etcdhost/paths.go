// Package etcdhost is how kbs runs an etcd member on a host: where its
// binaries, certificates, data and unit live, how the unit and the initial
// membership are rendered, which certificates the state directory holds for
// it, and how they are installed. Init creates members this way and the
// day-2 etcd commands change them the same way.
package etcdhost

// Where things live on an etcd host.
const (
	// PKIDir holds an etcd host's own certificates. It is not under
	// /etc/kubernetes/pki, which `kubeadm reset` deletes wholesale.
	PKIDir   = "/etc/etcd/pki"
	Binary   = "/usr/local/bin/etcd"
	Ctl      = "/usr/local/bin/etcdctl"
	Utl      = "/usr/local/bin/etcdutl"
	UnitPath = "/etc/systemd/system/etcd.service"
	UnitName = "etcd.service"
	// InitialEnvPath says how a member first joined (see RenderUnit).
	InitialEnvPath = "/etc/etcd/initial-cluster.env"

	ClientPort = 2379
	PeerPort   = 2380
)
