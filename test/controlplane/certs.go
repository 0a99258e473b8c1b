package controlplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// PKI holds the paths of every certificate and key the control plane uses,
// all made by kbs's own pki package: an etcd CA (the operator's external etcd
// with client-cert auth) and a Kubernetes cluster CA.
type PKI struct {
	Dir string

	EtcdCA         string
	EtcdCAKey      string
	EtcdServer     string
	EtcdServerKey  string
	EtcdPeer       string
	EtcdPeerKey    string
	EtcdClient     string // kube-apiserver's client cert for etcd
	EtcdClientKey  string
	CA             string // cluster CA: client-ca-file and CSR signer
	CAKey          string
	APIServer      string
	APIServerKey   string
	KubeletClient  string
	KubeletClientK string
	KCMServing     string
	KCMServingKey  string
	SAPub          string
	SAKey          string

	clusterCA *pki.CA
}

// issue is one certificate to make: file base name, signer, request.
type issue struct {
	name string
	ca   *pki.CA
	req  pki.CertRequest
}

func newPKI(dir string) (*PKI, error) {
	etcdCA, err := pki.NewCA(pki.CAOptions{CommonName: "etcd-ca"})
	if err != nil {
		return nil, err
	}
	clusterCA, err := pki.NewCA(pki.CAOptions{CommonName: "kubernetes"})
	if err != nil {
		return nil, err
	}
	local := []string{"localhost", "127.0.0.1"}
	apiSANs := append([]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local", ServiceIP}, local...)
	issues := []issue{
		{"etcd/server", etcdCA, pki.CertRequest{CommonName: "etcd0", Hosts: local, Profile: pki.ProfileServer}},
		{"etcd/peer", etcdCA, pki.CertRequest{CommonName: "etcd0", Hosts: local, Profile: pki.ProfilePeer}},
		{"apiserver-etcd-client", etcdCA, pki.CertRequest{CommonName: "kube-apiserver-etcd-client", Profile: pki.ProfileClient}},
		{"apiserver", clusterCA, pki.CertRequest{CommonName: "kube-apiserver", Hosts: apiSANs, Profile: pki.ProfileServer}},
		{"apiserver-kubelet-client", clusterCA, pki.CertRequest{CommonName: "kube-apiserver-kubelet-client",
			Organizations: []string{"kubeadm:cluster-admins"}, Profile: pki.ProfileClient}},
		{"controller-manager-serving", clusterCA, pki.CertRequest{CommonName: "kube-controller-manager", Hosts: local, Profile: pki.ProfileServer}},
	}
	p := &PKI{Dir: dir, clusterCA: clusterCA}
	if err := etcdCA.Write(filepath.Join(dir, "etcd"), "ca"); err != nil {
		return nil, err
	}
	if err := clusterCA.Write(dir, "ca"); err != nil {
		return nil, err
	}
	for _, is := range issues {
		kp, err := is.ca.Issue(is.req)
		if err != nil {
			return nil, err
		}
		base := filepath.Join(dir, is.name)
		if err := pki.WriteCertAndKey(base+".crt", base+".key", kp.CertPEM, kp.KeyPEM); err != nil {
			return nil, err
		}
	}
	p.fillPaths()
	return p, p.writeServiceAccountKey()
}

func (p *PKI) fillPaths() {
	j := func(n string) string { return filepath.Join(p.Dir, n) }
	p.EtcdCA, p.EtcdCAKey = j("etcd/ca.crt"), j("etcd/ca.key")
	p.EtcdServer, p.EtcdServerKey = j("etcd/server.crt"), j("etcd/server.key")
	p.EtcdPeer, p.EtcdPeerKey = j("etcd/peer.crt"), j("etcd/peer.key")
	p.EtcdClient, p.EtcdClientKey = j("apiserver-etcd-client.crt"), j("apiserver-etcd-client.key")
	p.CA, p.CAKey = j("ca.crt"), j("ca.key")
	p.APIServer, p.APIServerKey = j("apiserver.crt"), j("apiserver.key")
	p.KubeletClient, p.KubeletClientK = j("apiserver-kubelet-client.crt"), j("apiserver-kubelet-client.key")
	p.KCMServing, p.KCMServingKey = j("controller-manager-serving.crt"), j("controller-manager-serving.key")
	p.SAPub, p.SAKey = j("sa.pub"), j("sa.key")
}

// writeServiceAccountKey makes the token signing key pair. It is a bare key,
// not a certificate, so pki's CA does not apply.
func (p *PKI) writeServiceAccountKey() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(p.SAKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pki.KeyFileMode); err != nil {
		return fmt.Errorf("writing service account key: %w", err)
	}
	return fsutil.WriteFileAtomic(p.SAPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), pki.CertFileMode)
}

// IssueClient makes a client certificate signed by the cluster CA, for
// kubeconfigs of the harness's own users.
func (p *PKI) IssueClient(cn string, orgs ...string) (*pki.KeyPair, error) {
	return p.clusterCA.Issue(pki.CertRequest{CommonName: cn, Organizations: orgs, Profile: pki.ProfileClient})
}

// ClusterCA is the cluster CA, for tests that sign with it (--signer ca).
func (p *PKI) ClusterCA() *pki.CA { return p.clusterCA }
