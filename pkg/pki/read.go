package pki

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"
)

// CertInfo is what an operator wants to know about a certificate; it never
// holds key material.
type CertInfo struct {
	Subject       string    `json:"subject"`
	CommonName    string    `json:"commonName"`
	Organizations []string  `json:"organizations,omitempty"`
	Issuer        string    `json:"issuer"`
	Serial        string    `json:"serial"`
	DNSNames      []string  `json:"dnsNames,omitempty"`
	IPAddresses   []string  `json:"ipAddresses,omitempty"`
	KeyUsages     []string  `json:"keyUsages,omitempty"`
	ExtKeyUsages  []string  `json:"extKeyUsages,omitempty"`
	IsCA          bool      `json:"isCA"`
	NotBefore     time.Time `json:"notBefore"`
	NotAfter      time.Time `json:"notAfter"`
	PublicKey     string    `json:"publicKey"`
}

// ParseCertsPEM reads every CERTIFICATE block of a PEM bundle.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// ParseCertPEM reads the first certificate of a PEM bundle.
func ParseCertPEM(data []byte) (*x509.Certificate, error) {
	certs, err := ParseCertsPEM(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// Describe summarizes cert.
func Describe(cert *x509.Certificate) CertInfo {
	info := CertInfo{
		Subject:       cert.Subject.String(),
		CommonName:    cert.Subject.CommonName,
		Organizations: cert.Subject.Organization,
		Issuer:        cert.Issuer.String(),
		Serial:        cert.SerialNumber.Text(16),
		DNSNames:      cert.DNSNames,
		KeyUsages:     keyUsageNames(cert.KeyUsage),
		ExtKeyUsages:  extKeyUsageNames(cert.ExtKeyUsage),
		IsCA:          cert.IsCA,
		NotBefore:     cert.NotBefore,
		NotAfter:      cert.NotAfter,
		PublicKey:     publicKeyName(cert),
	}
	for _, ip := range cert.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	return info
}

// ExpiresWithin says whether cert is invalid at now+d (or already expired).
func ExpiresWithin(cert *x509.Certificate, now time.Time, d time.Duration) bool {
	return !now.Add(d).Before(cert.NotAfter)
}

// KeyMatchesCert reports whether the PEM private key is the one whose public
// half cert carries.
func KeyMatchesCert(keyPEM []byte, cert *x509.Certificate) (bool, error) {
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return false, err
	}
	return publicKeysEqual(cert.PublicKey, key.Public()), nil
}

// SPKIHash is kubeadm's discovery-token-ca-cert-hash of a CA certificate:
// "sha256:" and the hex SHA-256 of its DER SubjectPublicKeyInfo.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	da, errA := x509.MarshalPKIXPublicKey(a)
	db, errB := x509.MarshalPKIXPublicKey(b)
	return errA == nil && errB == nil && bytes.Equal(da, db)
}

// Remaining is the time left, in days when there are several.
func Remaining(notAfter, now time.Time) string {
	d := notAfter.Sub(now)
	if d <= 0 {
		return "EXPIRED"
	}
	days := int(d.Hours() / 24)
	if days >= 2 {
		return fmt.Sprintf("%dd", days)
	}
	return d.Round(time.Minute).String()
}
