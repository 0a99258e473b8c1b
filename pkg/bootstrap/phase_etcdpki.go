package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// EtcdPKI is every certificate of the external etcd, from the local state.
type EtcdPKI struct {
	CA     *pki.CA
	Server map[string]*pki.KeyPair // by host name
	Peer   map[string]*pki.KeyPair
	Client *pki.KeyPair // kube-apiserver's client cert (and kbs's, for health)
}

func loadEtcdPKI(d InitData) (*EtcdPKI, []string, error) {
	return LoadEtcdPKI(d.Cluster(), d.State(), nil)
}

// LoadEtcdPKI loads the etcd CA and certs from the state directory, issuing
// what is missing or no longer fits the spec, and reissuing the leaf
// certificates renew names (a rotation); it reports what it issued.
func LoadEtcdPKI(c *cluster.Cluster, s *State, renew []string) (*EtcdPKI, []string, error) {
	validity, err := time.ParseDuration(c.Spec.Etcd.CertValidity)
	if err != nil {
		return nil, nil, fmt.Errorf("spec.etcd.certValidity: %w", err)
	}
	ca, created, err := s.EtcdCA()
	if err != nil {
		return nil, nil, err
	}
	var issued []string
	if created {
		issued = append(issued, "etcd CA")
	}
	p := &EtcdPKI{CA: ca, Server: map[string]*pki.KeyPair{}, Peer: map[string]*pki.KeyPair{}}
	leaf := func(name string, req pki.CertRequest) (*pki.KeyPair, error) {
		req.Expiry = validity
		kp, isNew, err := s.LeafCert(ca, name, req, slices.Contains(renew, name))
		if isNew {
			issued = append(issued, name)
		}
		return kp, err
	}
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		hosts := []string{h.Name, h.Address, "localhost", "127.0.0.1"}
		if p.Server[h.Name], err = leaf(ServerCertName(h.Name), pki.CertRequest{CommonName: h.Name, Hosts: hosts, Profile: pki.ProfileServer}); err != nil {
			return nil, nil, err
		}
		if p.Peer[h.Name], err = leaf(PeerCertName(h.Name), pki.CertRequest{CommonName: h.Name, Hosts: hosts, Profile: pki.ProfilePeer}); err != nil {
			return nil, nil, err
		}
	}
	p.Client, err = leaf(APIServerEtcdClientName, pki.CertRequest{CommonName: "kube-apiserver-etcd-client", Profile: pki.ProfileClient})
	if err != nil {
		return nil, nil, err
	}
	return p, issued, nil
}

// Names of the etcd leaf certificates in the state directory (pki/etcd/).
const APIServerEtcdClientName = "apiserver-etcd-client"

// ServerCertName is the name of an etcd host's serving certificate.
func ServerCertName(host string) string { return host + "-server" }

// PeerCertName is the name of an etcd host's peer certificate.
func PeerCertName(host string) string { return host + "-peer" }

func etcdPKIPhase() Phase[InitData] {
	return Phase[InitData]{
		Name:  "etcd-pki",
		Short: "etcd CA, server and peer certificates per etcd host, API server client certificate (local)",
		Run: func(ctx context.Context, d InitData) error {
			p, issued, err := loadEtcdPKI(d)
			if err != nil {
				return err
			}
			if len(issued) == 0 {
				d.Log("etcd-pki", "", "all certificates present and valid (CA %s)", pki.SPKIHash(p.CA.Cert))
				return nil
			}
			verb := "issued"
			if d.DryRun() {
				verb = "would issue"
			}
			d.Log("etcd-pki", "", "%s %v (CA %s) in %s", verb, issued, pki.SPKIHash(p.CA.Cert), d.State().Dir)
			return nil
		},
	}
}

// certSummary describes a PEM certificate for a plan.
func certSummary(data []byte, secret bool) string {
	if secret {
		return ""
	}
	cert, err := pki.ParseCertPEM(data)
	if err != nil {
		return ""
	}
	i := pki.Describe(cert)
	sans := append(append([]string{}, i.DNSNames...), i.IPAddresses...)
	return fmt.Sprintf("certificate CN=%s, issuer %s, SANs %v, usages %v, valid until %s", i.CommonName, i.Issuer, sans, i.ExtKeyUsages, i.NotAfter.Format(time.RFC3339))
}
