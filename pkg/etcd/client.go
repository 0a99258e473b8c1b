// Package etcd runs the day-2 life of the external etcd kbs created: member
// status, streamed snapshots, restore, membership changes and certificate
// rotation. It talks to etcd over mutual TLS from the operator's machine
// with the certificates in kbs's state directory, and to the hosts over SSH
// through pkg/bootstrap's hosts.
package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// Member is an etcd host of the spec with its client endpoint.
type Member struct {
	Host     cluster.Host
	Endpoint string // https://ADDRESS:2379
	PeerURL  string
}

// Members are the spec's etcd hosts.
func Members(c *cluster.Cluster) []Member {
	var out []Member
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		out = append(out, Member{Host: h, Endpoint: etcdhost.ClientURL(h), PeerURL: etcdhost.PeerURL(h)})
	}
	return out
}

// TLSConfig is kbs's client side of etcd's mutual TLS: the etcd CA and
// the API server's etcd client certificate, from the state directory.
func TLSConfig(p *etcdhost.PKI) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(p.Client.CertPEM, p.Client.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("the etcd client certificate in the state directory: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	if p.Previous != nil {
		pool.AddCert(p.Previous) // mid CA rotation: members may still present the old CA's certificates
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// Dial opens an etcd client to the given endpoints. It returns without
// waiting for a connection: calls fail (within their context) when no
// endpoint answers, which is what status wants to report.
func Dial(tc *tls.Config, endpoints ...string) (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		TLS:                  tc,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zap.NewNop(), // errors come back as values, not log lines
		MaxCallRecvMsgSize:   0,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return c, nil
}

// Env is what the etcd commands work from: the spec, kbs's state directory
// and (for host work) a session with SSH.
type Env struct {
	Spec    *cluster.Cluster
	State   *state.State
	Session *host.Session // nil for commands that only talk to etcd
}

// DryRun says whether the run only plans; the etcd verbs that change
// anything run their phases on the workflow engine through Env.
func (e *Env) DryRun() bool { return e.Session != nil && e.Session.Plan }

// PKI loads the etcd PKI from the state directory without issuing
// anything.
func (e *Env) PKI() (*etcdhost.PKI, error) {
	if !e.State.HasEtcdCA() {
		return nil, fmt.Errorf("no etcd CA in %s: kbs etcd works on an etcd that kbs init created; pass --state-dir where init kept the cluster's state", e.State.Dir)
	}
	return etcdhost.ReadPKI(e.Spec, e.State)
}

// Client dials every member of the spec.
func (e *Env) Client(ctx context.Context) (*clientv3.Client, *tls.Config, error) {
	var eps []string
	for _, m := range Members(e.Spec) {
		eps = append(eps, m.Endpoint)
	}
	return e.Dial(eps...)
}

// Dial opens a client to the given endpoints with the state's certificates.
func (e *Env) Dial(endpoints ...string) (*clientv3.Client, *tls.Config, error) {
	p, err := e.PKI()
	if err != nil {
		return nil, nil, err
	}
	tc, err := TLSConfig(p)
	if err != nil {
		return nil, nil, err
	}
	c, err := Dial(tc, endpoints...)
	return c, tc, err
}
