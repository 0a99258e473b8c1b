package etcdhost

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

var unitTemplate = template.Must(template.New("etcd.service").Parse(`# Managed by kbs for cluster {{ .Cluster }}; changes are overwritten.
[Unit]
Description=etcd for Kubernetes cluster {{ .Cluster }}
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
# How this member first joined (new cluster or existing); read by etcd only
# while its data directory is empty.
EnvironmentFile={{ .InitialEnv }}
ExecStart={{ .Binary }}{{ range .Args }} \
  {{ . }}{{ end }}
Restart=on-failure
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`))

// RenderUnit writes the systemd unit for the etcd member on host: client-
// and peer-certificate auth. The unit is etcd.service and is enabled as
// etcd.service (the notes wrote etc.service and enabled "etcd", which does
// not exist). It holds nothing about the other members: who the member
// started with lives in InitialEnvPath, so growing or shrinking the
// cluster never rewrites (and restarts) the members already running.
func RenderUnit(c *cluster.Cluster, host cluster.Host) ([]byte, error) {
	file := func(f string) string { return PKIDir + "/" + f }
	listen := listenAddr(host.Address)
	args := []string{
		"--name=" + host.Name,
		"--data-dir=" + c.Spec.Etcd.DataDir,
		"--listen-client-urls=" + url(listen, ClientPort) + ",https://127.0.0.1:2379",
		"--advertise-client-urls=" + url(host.Address, ClientPort),
		"--listen-peer-urls=" + url(listen, PeerPort),
		"--initial-advertise-peer-urls=" + PeerURL(host),
		"--cert-file=" + file("server.crt"), "--key-file=" + file("server.key"),
		"--client-cert-auth=true", "--trusted-ca-file=" + file("ca.crt"),
		"--peer-cert-file=" + file("peer.crt"), "--peer-key-file=" + file("peer.key"),
		"--peer-client-cert-auth=true", "--peer-trusted-ca-file=" + file("ca.crt"),
	}
	var b bytes.Buffer
	err := unitTemplate.Execute(&b, struct {
		Cluster, Binary, InitialEnv string
		Args                        []string
	}{c.Metadata.Name, Binary, InitialEnvPath, args})
	if err != nil {
		return nil, fmt.Errorf("rendering etcd unit: %w", err)
	}
	return b.Bytes(), nil
}

// InitialMember is one member of the cluster a new member starts with.
type InitialMember struct{ Name, PeerURL string }

// RenderInitialEnv is the environment file for a member's first start:
// the members it starts with, whether the cluster is new or existing, and
// the cluster token (a restore makes a new one).
func RenderInitialEnv(members []InitialMember, state, token string) []byte {
	var initial []string
	for _, m := range members {
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	return []byte(fmt.Sprintf("# Written by kbs: how this member first joined; etcd reads it only while its data directory is empty.\nETCD_INITIAL_CLUSTER=%s\nETCD_INITIAL_CLUSTER_STATE=%s\nETCD_INITIAL_CLUSTER_TOKEN=%s\n",
		strings.Join(initial, ","), state, token))
}

// SpecInitialMembers are the spec's etcd hosts, the members of a new cluster.
func SpecInitialMembers(c *cluster.Cluster) []InitialMember {
	var out []InitialMember
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		out = append(out, InitialMember{Name: h.Name, PeerURL: PeerURL(h)})
	}
	return out
}

// ClusterToken is the initial cluster token of a new cluster.
func ClusterToken(c *cluster.Cluster) string { return "kbs-" + c.Metadata.Name }

// PeerURL is the peer URL of an etcd host.
func PeerURL(h cluster.Host) string { return url(h.Address, PeerPort) }

// ClientURL is the client URL of an etcd host.
func ClientURL(h cluster.Host) string { return url(h.Address, ClientPort) }

// Endpoints are the client URLs of every etcd member.
func Endpoints(c *cluster.Cluster) []string {
	var eps []string
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		eps = append(eps, ClientURL(h))
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
