package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// File modes: certificates are public, keys are for their owner only.
const (
	CertFileMode os.FileMode = 0o644
	KeyFileMode  os.FileMode = 0o600
)

// WriteCertAndKey writes certPEM to certPath and keyPEM to keyPath, each
// atomically. The key's directory is created (or tightened) to 0700 and the
// key written 0600. The key goes first: a cert without its key is useless,
// while a key left behind by a failed cert write is overwritten next time.
func WriteCertAndKey(certPath, keyPath string, certPEM, keyPEM []byte) error {
	if err := fsutil.EnsurePrivateDir(filepath.Dir(keyPath)); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(keyPath, keyPEM, KeyFileMode); err != nil {
		return fmt.Errorf("writing private key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(certPath), fsutil.PrivateDirMode); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(certPath), err)
	}
	if err := fsutil.WriteFileAtomic(certPath, certPEM, CertFileMode); err != nil {
		return fmt.Errorf("writing certificate: %w", err)
	}
	return nil
}

// Write stores the pair as DIR/NAME.crt and DIR/NAME.key (kubeadm's naming).
func (kp *KeyPair) Write(dir, name string) error {
	return WriteCertAndKey(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), kp.CertPEM, kp.KeyPEM)
}

// Write stores the CA as DIR/NAME.crt and DIR/NAME.key.
func (ca *CA) Write(dir, name string) error {
	return WriteCertAndKey(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), ca.CertPEM, ca.KeyPEM)
}

// LoadCAFiles reads a CA from a certificate and key file.
func LoadCAFiles(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("reading CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("reading CA key: %w", err)
	}
	return LoadCA(certPEM, keyPEM)
}
