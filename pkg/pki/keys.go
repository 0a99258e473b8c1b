package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
)

// KeyType names a private key algorithm and size, as `--key-type` takes it.
type KeyType string

// Key types kbs issues. ECDSA P-256 is the default: small, fast, and accepted
// by every Kubernetes component and etcd.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	RSA4096   KeyType = "rsa-4096"
)

// KeyTypes lists the supported key types, default first.
var KeyTypes = []KeyType{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096}

// ParseKeyType checks s against KeyTypes; "" means the default.
func ParseKeyType(s string) (KeyType, error) {
	if s == "" {
		return ECDSAP256, nil
	}
	for _, k := range KeyTypes {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(KeyTypes))
	for i, k := range KeyTypes {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown key type %q: want one of %s", s, strings.Join(names, ", "))
}

func (k KeyType) keyRequest() (*csr.KeyRequest, error) {
	kt, err := ParseKeyType(string(k))
	if err != nil {
		return nil, err
	}
	switch kt {
	case ECDSAP384:
		return &csr.KeyRequest{A: "ecdsa", S: 384}, nil
	case RSA2048:
		return &csr.KeyRequest{A: "rsa", S: 2048}, nil
	case RSA3072:
		return &csr.KeyRequest{A: "rsa", S: 3072}, nil
	case RSA4096:
		return &csr.KeyRequest{A: "rsa", S: 4096}, nil
	}
	return &csr.KeyRequest{A: "ecdsa", S: 256}, nil
}

// toPKCS8 re-encodes a PEM private key (cfssl writes SEC1 "EC PRIVATE KEY" and
// PKCS#1 "RSA PRIVATE KEY") as PKCS#8 "PRIVATE KEY", which every client reads.
func toPKCS8(keyPEM []byte) ([]byte, crypto.Signer, error) {
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing private key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding private key as PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), key, nil
}

// ParsePrivateKeyPEM reads a PEM private key in PKCS#8, SEC1 or PKCS#1 form.
func ParsePrivateKeyPEM(keyPEM []byte) (crypto.Signer, error) {
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	return key, nil
}
