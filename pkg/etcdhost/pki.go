package etcdhost

import (
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// PKI is every certificate of the external etcd, from the local state.
type PKI struct {
	CA     *pki.CA
	Server map[string]*pki.KeyPair // by host name
	Peer   map[string]*pki.KeyPair
	Client *pki.KeyPair // kube-apiserver's client cert (and kbs's, for health)
	// Previous is the CA being replaced during a CA rotation
	// (pki/etcd/ca-old.crt): kbs still trusts what it signed.
	Previous *x509.Certificate
}

// LoadPKI loads the etcd CA and certs from the state directory, issuing
// what is missing or no longer fits the spec; it reports what it issued.
// With renew nil (init) a certificate that expires within 30 days is
// renewed too; otherwise (day 2) exactly the names in renew are, so that
// nothing is issued that the caller does not deploy.
func LoadPKI(c *cluster.Cluster, s *state.State, renew []string) (*PKI, []string, error) {
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
	p := &PKI{CA: ca, Server: map[string]*pki.KeyPair{}, Peer: map[string]*pki.KeyPair{}}
	leaf := func(name string, req pki.CertRequest) (*pki.KeyPair, error) {
		req.Expiry = validity
		policy := state.RenewSoon
		switch {
		case slices.Contains(renew, name):
			policy = state.Force
		case renew != nil:
			policy = state.Keep
		}
		kp, isNew, err := s.LeafCert(ca, name, req, policy)
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

// ReadPKI loads the etcd CA and the leaf certificates the state
// directory holds, issuing nothing: what day-2 commands read must not
// change under them (LoadPKI would renew a certificate that expires
// within 30 days). A missing leaf is left out.
func ReadPKI(c *cluster.Cluster, s *state.State) (*PKI, error) {
	ca, err := pki.LoadCAFiles(s.EtcdPKIFile("ca.crt"), s.EtcdPKIFile("ca.key"))
	if err != nil {
		return nil, fmt.Errorf("the etcd CA in %s: %w", s.Dir, err)
	}
	p := &PKI{CA: ca, Server: map[string]*pki.KeyPair{}, Peer: map[string]*pki.KeyPair{}}
	if b, err := os.ReadFile(s.EtcdPKIFile("ca-old.crt")); err == nil {
		if p.Previous, err = pki.ParseCertPEM(b); err != nil {
			return nil, fmt.Errorf("pki/etcd/ca-old.crt in %s: %w", s.Dir, err)
		}
	}
	read := func(name string) *pki.KeyPair {
		crt, key := s.EtcdPKIFile(name+".crt"), s.EtcdPKIFile(name+".key")
		if kp, ok := state.LoadPair(ca, crt, key, pki.CertRequest{}, true); ok {
			return kp
		}
		if p.Previous != nil {
			if kp, ok := state.LoadPair(&pki.CA{Cert: p.Previous}, crt, key, pki.CertRequest{}, true); ok {
				return kp
			}
		}
		return nil
	}
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		if kp := read(ServerCertName(h.Name)); kp != nil {
			p.Server[h.Name] = kp
		}
		if kp := read(PeerCertName(h.Name)); kp != nil {
			p.Peer[h.Name] = kp
		}
	}
	if p.Client = read(APIServerEtcdClientName); p.Client == nil {
		return nil, fmt.Errorf("no usable etcd client certificate (%s) in %s: run kubectl kbs init phase etcd-pki", APIServerEtcdClientName, s.Dir)
	}
	return p, nil
}

// Names of the etcd leaf certificates in the state directory (pki/etcd/).
const APIServerEtcdClientName = "apiserver-etcd-client"

// ServerCertName is the name of an etcd host's serving certificate.
func ServerCertName(host string) string { return host + "-server" }

// PeerCertName is the name of an etcd host's peer certificate.
func PeerCertName(host string) string { return host + "-peer" }
