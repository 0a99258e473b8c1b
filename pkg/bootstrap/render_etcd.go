package bootstrap

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"text/template"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

var etcdUnit = template.Must(template.New("etcd.service").Parse(`# Managed by kbs for cluster {{ .Cluster }}; changes are overwritten.
[Unit]
Description=etcd for Kubernetes cluster {{ .Cluster }}
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
ExecStart={{ .Binary }}{{ range .Args }} \
  {{ . }}{{ end }}
Restart=on-failure
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`))

// RenderEtcdUnit writes the systemd unit for the etcd member on host: client-
// and peer-certificate auth, the initial cluster from every etcd host of the
// spec. The unit is etcd.service and is enabled as etcd.service (the notes
// wrote etc.service and enabled "etcd", which does not exist).
func RenderEtcdUnit(c *cluster.Cluster, host cluster.Host) ([]byte, error) {
	var initial []string
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		initial = append(initial, h.Name+"="+url(h.Address, EtcdPeerPort))
	}
	pki := func(f string) string { return EtcdPKIDir + "/" + f }
	listen := listenAddr(host.Address)
	args := []string{
		"--name=" + host.Name,
		"--data-dir=" + c.Spec.Etcd.DataDir,
		"--listen-client-urls=" + url(listen, EtcdClientPort) + ",https://127.0.0.1:2379",
		"--advertise-client-urls=" + url(host.Address, EtcdClientPort),
		"--listen-peer-urls=" + url(listen, EtcdPeerPort),
		"--initial-advertise-peer-urls=" + url(host.Address, EtcdPeerPort),
		"--initial-cluster=" + strings.Join(initial, ","),
		"--initial-cluster-token=kbs-" + c.Metadata.Name,
		"--initial-cluster-state=new",
		"--cert-file=" + pki("server.crt"), "--key-file=" + pki("server.key"),
		"--client-cert-auth=true", "--trusted-ca-file=" + pki("ca.crt"),
		"--peer-cert-file=" + pki("peer.crt"), "--peer-key-file=" + pki("peer.key"),
		"--peer-client-cert-auth=true", "--peer-trusted-ca-file=" + pki("ca.crt"),
	}
	var b bytes.Buffer
	err := etcdUnit.Execute(&b, struct {
		Cluster, Binary string
		Args            []string
	}{c.Metadata.Name, EtcdBinary, args})
	if err != nil {
		return nil, fmt.Errorf("rendering etcd unit: %w", err)
	}
	return b.Bytes(), nil
}

// EtcdEndpoints are the client URLs of every etcd member.
func EtcdEndpoints(c *cluster.Cluster) []string {
	var eps []string
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		eps = append(eps, url(h.Address, EtcdClientPort))
	}
	return eps
}

func url(host string, port int) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// listenAddr is the address etcd binds: the host's IP, or every address
// when the spec names the host by DNS name.
func listenAddr(address string) string {
	if _, err := netip.ParseAddr(address); err == nil {
		return address
	}
	return "0.0.0.0"
}
