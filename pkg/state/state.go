// Package state is the cluster's directory on the operator's machine,
// ~/.kube/kbs/<cluster>/ (0700): the CAs kbs owns, the certificates it
// issued from them, the admin kubeconfig, the spec as last applied and the
// journal of finished phases. Every capability that changes a cluster reads
// and writes it through this package.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/fsutil"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// State is the cluster's directory on the operator's machine,
// ~/.kube/kbs/<cluster>/ (0700): the etcd CA and certificates, the spec as
// last applied, the journal. In dry-run nothing is written: what would be
// created lives in memory only.
type State struct {
	Dir    string
	dryRun bool

	// planned are the CAs a dry run made up, kept for the run: one plan
	// names one CA, and join's CA hash is the control plane's.
	mu      sync.Mutex
	planned map[string]*pki.CA
}

// DefaultDir is ~/.kube/kbs/<cluster>.
func DefaultDir(clusterName string) string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".kube", "kbs", clusterName)
}

// Open makes sure dir exists as a private directory (not in dry-run).
func Open(dir string, dryRun bool) (*State, error) {
	if !dryRun {
		if err := fsutil.EnsurePrivateDir(dir); err != nil {
			return nil, err
		}
	}
	return &State{Dir: dir, dryRun: dryRun}, nil
}

// Path is a file under the state directory.
func (s *State) Path(elem ...string) string { return s.path(elem...) }

// DryRun says whether this state only plans: nothing is written.
func (s *State) DryRun() bool { return s.dryRun }

func (s *State) path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

// EtcdCA loads the cluster's etcd CA, creating it on first use.
func (s *State) EtcdCA() (*pki.CA, bool, error) { return s.CA("etcd", "ca", "etcd-ca") }

// HasEtcdCA says whether the state directory holds the etcd CA: day-2
// commands work on an etcd kbs made and must never mint a new CA.
func (s *State) HasEtcdCA() bool {
	_, err := os.Stat(s.path("pki", "etcd", "ca.crt"))
	return err == nil
}

// EtcdPKIFile is the path of NAME under the state's pki/etcd/.
func (s *State) EtcdPKIFile(name string) string { return s.path("pki", "etcd", name) }

// KubernetesCA is the cluster CA kubeadm signs everything with; kbs makes it
// so that the join CA hash is known before kubeadm runs and a re-run (or a
// re-init after `kubeadm reset`) never mints a new one.
func (s *State) KubernetesCA() (*pki.CA, bool, error) { return s.CA("kubernetes", "ca", "kubernetes") }

// FrontProxyCA signs the API server's aggregation-layer client certificate.
func (s *State) FrontProxyCA() (*pki.CA, bool, error) {
	return s.CA("kubernetes", "front-proxy-ca", "front-proxy-ca")
}

// CA loads pki/<sub>/<name>.{crt,key}, creating the CA on first use. An
// existing CA is never regenerated: every certificate depends on it.
func (s *State) CA(sub, name, commonName string) (*pki.CA, bool, error) {
	crt, key := s.path("pki", sub, name+".crt"), s.path("pki", sub, name+".key")
	if s.dryRun {
		s.mu.Lock()
		defer s.mu.Unlock()
		if ca, ok := s.planned[crt]; ok {
			return ca, false, nil
		}
	}
	if _, err := os.Stat(crt); err == nil {
		ca, err := pki.LoadCAFiles(crt, key)
		if err != nil {
			return nil, false, fmt.Errorf("the CA %s is unusable (%w): restore it from a backup; a new CA would orphan every certificate issued from it", crt, err)
		}
		return ca, false, nil
	}
	ca, err := pki.NewCA(pki.CAOptions{CommonName: commonName})
	if err != nil {
		return nil, false, err
	}
	if s.dryRun {
		if s.planned == nil {
			s.planned = map[string]*pki.CA{}
		}
		s.planned[crt] = ca
		return ca, true, nil
	}
	if err := ca.Write(s.path("pki", sub), name); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// AdminKubeconfig is where kbs keeps the cluster's admin.conf (0600).
func (s *State) AdminKubeconfig() string { return s.path("admin.conf") }

// SaveAdminKubeconfig stores admin.conf as fetched from the control plane.
func (s *State) SaveAdminKubeconfig(b []byte) error {
	if s.dryRun {
		return nil
	}
	return fsutil.WriteFileAtomic(s.AdminKubeconfig(), b, 0o600)
}

// Renewal says when LeafCert issues a certificate that exists and fits.
type Renewal int

const (
	// RenewSoon reissues one that expires within 30 days (init).
	RenewSoon Renewal = iota
	// Keep keeps any valid one: day-2 steps issue only what they deploy.
	Keep
	// Force always issues a new one (rotation).
	Force
)

// LeafCert returns the certificate NAME under pki/etcd, issuing it when it is
// missing, not from ca or lacks a wanted SAN, and as policy says otherwise.
// An unchanged cert means an unchanged file on the host and no etcd restart.
func (s *State) LeafCert(ca *pki.CA, name string, req pki.CertRequest, policy Renewal) (*pki.KeyPair, bool, error) {
	crt, key := s.path("pki", "etcd", name+".crt"), s.path("pki", "etcd", name+".key")
	if kp, ok := LoadPair(ca, crt, key, req, policy == Keep); ok && policy != Force {
		return kp, false, nil
	}
	kp, err := ca.Issue(req)
	if err != nil {
		return nil, false, err
	}
	if !s.dryRun {
		if err := pki.WriteCertAndKey(crt, key, kp.CertPEM, kp.KeyPEM); err != nil {
			return nil, false, err
		}
	}
	return kp, true, nil
}

// LoadPair loads a certificate and key that belong together, were signed
// by ca and cover every host req names; unless anyAge, one that expires
// within 30 days does not count.
func LoadPair(ca *pki.CA, crtPath, keyPath string, req pki.CertRequest, anyAge bool) (*pki.KeyPair, bool) {
	certPEM, err1 := os.ReadFile(crtPath)
	keyPEM, err2 := os.ReadFile(keyPath)
	if err := errors.Join(err1, err2); err != nil {
		return nil, false
	}
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil || cert.CheckSignatureFrom(ca.Cert) != nil || (!anyAge && pki.ExpiresWithin(cert, time.Now(), 30*24*time.Hour)) {
		return nil, false
	}
	if ok, err := pki.KeyMatchesCert(keyPEM, cert); err != nil || !ok {
		return nil, false
	}
	info := pki.Describe(cert)
	have := append(append([]string{}, info.DNSNames...), info.IPAddresses...)
	for _, h := range req.Hosts {
		if !slices.Contains(have, h) {
			return nil, false
		}
	}
	return &pki.KeyPair{Cert: cert, CertPEM: certPEM, KeyPEM: keyPEM}, true
}

// SaveSpec records the spec as applied; SpecHash identifies it in the journal.
func (s *State) SaveSpec(c *cluster.Cluster) error {
	if s.dryRun {
		return nil
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.path("cluster.yaml"), b, 0o600)
}

// SpecHash is a short hash of the defaulted spec.
func SpecHash(c *cluster.Cluster) string {
	b, _ := yaml.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
