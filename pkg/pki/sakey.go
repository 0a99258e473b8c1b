package pki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// NewServiceAccountKey makes the key the API servers sign service account
// tokens with and the controller manager uses, as kubeadm makes it (RSA
// 2048): every control plane must hold the same one.
func NewServiceAccountKey() (keyPEM []byte, err error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
}

// ServiceAccountPublicKey is the public half of a service account key, PEM
// "PUBLIC KEY" as kubeadm writes sa.pub.
func ServiceAccountPublicKey(keyPEM []byte) ([]byte, error) {
	k, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("service account key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
