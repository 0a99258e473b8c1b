// Package pki makes and reads the certificates kbs needs: an etcd CA and the
// server, peer and client certificates signed by it (the operator's cfssl
// profiles), user client certificates, and the metadata of certificates found
// on hosts. It is built on cfssl as a library. Private keys are PKCS#8 and are
// never logged.
package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

func init() {
	// cfssl logs every signing at info level to the process's stderr; a
	// library must not write there behind the command's back.
	cflog.Level = cflog.LevelFatal
}

// CA is a certificate authority that can issue certificates.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte // PKCS#8
	key     crypto.Signer
}

// CAOptions describe a new CA.
type CAOptions struct {
	CommonName string
	KeyType    KeyType       // default ECDSAP256
	Expiry     time.Duration // default DefaultCAExpiry
}

// NewCA creates a self-signed CA.
func NewCA(opts CAOptions) (*CA, error) {
	if opts.CommonName == "" {
		return nil, fmt.Errorf("creating CA: a common name is required (for example \"etcd-ca\")")
	}
	kr, err := opts.KeyType.keyRequest()
	if err != nil {
		return nil, fmt.Errorf("creating CA %q: %w", opts.CommonName, err)
	}
	expiry := opts.Expiry
	if expiry == 0 {
		expiry = DefaultCAExpiry
	}
	certPEM, _, keyPEM, err := initca.New(&csr.CertificateRequest{
		CN:         opts.CommonName,
		KeyRequest: kr,
		CA:         &csr.CAConfig{Expiry: expiry.String()},
	})
	if err != nil {
		return nil, fmt.Errorf("creating CA %q: %w", opts.CommonName, err)
	}
	return caFromPEM(certPEM, keyPEM)
}

// LoadCA reads a CA from PEM certificate and key, checking that they belong
// together and that the certificate may sign others.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	ca, err := caFromPEM(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	if !ca.Cert.IsCA {
		return nil, fmt.Errorf("loading CA: certificate %q is not a CA (basicConstraints CA:FALSE)", ca.Cert.Subject.CommonName)
	}
	return ca, nil
}

func caFromPEM(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	pkcs8, key, err := toPKCS8(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("CA key does not match CA certificate %q", cert.Subject.CommonName)
	}
	return &CA{Cert: cert, CertPEM: certPEM, KeyPEM: pkcs8, key: key}, nil
}

// CertRequest describes a certificate to issue.
type CertRequest struct {
	CommonName    string
	Organizations []string // subject O=; Kubernetes reads them as groups
	// Hosts are the subject alternative names: DNS names and IP addresses.
	Hosts   []string
	Profile string        // ProfileServer, ProfileClient or ProfilePeer
	KeyType KeyType       // default ECDSAP256
	Expiry  time.Duration // default: the profile's (DefaultExpiry)
}

// KeyPair is an issued certificate and its private key.
type KeyPair struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte // PKCS#8
}

// Issue generates a key and a certificate for req, signed by the CA.
func (ca *CA) Issue(req CertRequest) (*KeyPair, error) {
	if req.CommonName == "" {
		return nil, fmt.Errorf("issuing certificate: a common name is required")
	}
	policy, err := signingPolicy(req.Profile, req.Expiry)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", req.CommonName, err)
	}
	kr, err := req.KeyType.keyRequest()
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", req.CommonName, err)
	}
	cr := &csr.CertificateRequest{CN: req.CommonName, Hosts: req.Hosts, KeyRequest: kr}
	for _, o := range req.Organizations {
		cr.Names = append(cr.Names, csr.Name{O: o})
	}
	csrPEM, keyPEM, err := csr.ParseRequest(cr)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: generating key: %w", req.CommonName, err)
	}
	s, err := local.NewSigner(ca.key, ca.Cert, signer.DefaultSigAlgo(ca.key), policy)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", req.CommonName, err)
	}
	certPEM, err := s.Sign(signer.SignRequest{Hosts: req.Hosts, Request: string(csrPEM), Profile: req.Profile})
	if err != nil {
		return nil, fmt.Errorf("issuing certificate %q: %w", req.CommonName, err)
	}
	return keyPairFromPEM(certPEM, keyPEM)
}

func keyPairFromPEM(certPEM, keyPEM []byte) (*KeyPair, error) {
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing issued certificate: %w", err)
	}
	pkcs8, _, err := toPKCS8(keyPEM)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, CertPEM: certPEM, KeyPEM: pkcs8}, nil
}

// HostsFor returns the SANs a server on host needs: its name, its addresses,
// and loopback so local clients can reach it too.
func HostsFor(names []string, ips []net.IP) []string {
	hosts := append([]string{}, names...)
	for _, ip := range ips {
		hosts = append(hosts, ip.String())
	}
	return append(hosts, "localhost", "127.0.0.1")
}

// NewKeyAndCSR generates a private key (PKCS#8 PEM) and a PKCS#10 request
// for it with CN and O, for a signer elsewhere (the Kubernetes CSR API).
func NewKeyAndCSR(commonName string, organizations []string, kt KeyType) (keyPEM, csrPEM []byte, err error) {
	kr, err := kt.keyRequest()
	if err != nil {
		return nil, nil, err
	}
	cr := &csr.CertificateRequest{CN: commonName, KeyRequest: kr}
	for _, o := range organizations {
		cr.Names = append(cr.Names, csr.Name{O: o})
	}
	csrPEM, rawKey, err := csr.ParseRequest(cr)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key and CSR: %w", err)
	}
	keyPEM, _, err = toPKCS8(rawKey)
	return keyPEM, csrPEM, err
}
