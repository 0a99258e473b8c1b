package bootstrap

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
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
	// Previous is the CA being replaced during a CA rotation
	// (pki/etcd/ca-old.crt): kbs still trusts what it signed.
	Previous *x509.Certificate
}

func loadEtcdPKI(d InitData) (*EtcdPKI, []string, error) {
	return LoadEtcdPKI(d.Cluster(), d.State(), nil)
}

// LoadEtcdPKI loads the etcd CA and certs from the state directory, issuing
// what is missing or no longer fits the spec; it reports what it issued.
// With renew nil (init) a certificate that expires within 30 days is
// renewed too; otherwise (day 2) exactly the names in renew are, so that
// nothing is issued that the caller does not deploy.
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
		policy := RenewSoon
		switch {
		case slices.Contains(renew, name):
			policy = Force
		case renew != nil:
			policy = Keep
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

// ReadEtcdPKI loads the etcd CA and the leaf certificates the state
// directory holds, issuing nothing: what day-2 commands read must not
// change under them (LoadEtcdPKI would renew a certificate that expires
// within 30 days). A missing leaf is left out.
func ReadEtcdPKI(c *cluster.Cluster, s *State) (*EtcdPKI, error) {
	ca, err := pki.LoadCAFiles(s.path("pki", "etcd", "ca.crt"), s.path("pki", "etcd", "ca.key"))
	if err != nil {
		return nil, fmt.Errorf("the etcd CA in %s: %w", s.Dir, err)
	}
	p := &EtcdPKI{CA: ca, Server: map[string]*pki.KeyPair{}, Peer: map[string]*pki.KeyPair{}}
	if b, err := os.ReadFile(s.path("pki", "etcd", "ca-old.crt")); err == nil {
		if p.Previous, err = pki.ParseCertPEM(b); err != nil {
			return nil, fmt.Errorf("pki/etcd/ca-old.crt in %s: %w", s.Dir, err)
		}
	}
	read := func(name string) *pki.KeyPair {
		crt, key := s.path("pki", "etcd", name+".crt"), s.path("pki", "etcd", name+".key")
		if kp, ok := reusable(ca, crt, key, pki.CertRequest{}, true); ok {
			return kp
		}
		if p.Previous != nil {
			if kp, ok := reusable(&pki.CA{Cert: p.Previous}, crt, key, pki.CertRequest{}, true); ok {
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
