package state

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// secretAlphabet is what a generated secret is made of: safe unquoted in
// any configuration file kbs writes.
const secretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Secret returns the secret kept in the state file name (0600), creating a
// random one of n characters on first use: the same value on every run, so
// that configurations rendered from it do not change. A dry run creates
// nothing and plans with a stand-in.
func (s *State) Secret(name string, n int) (string, error) {
	path := s.path(name)
	b, err := os.ReadFile(path)
	if err == nil {
		v := strings.TrimSpace(string(b))
		if len(v) != n || strings.Trim(v, secretAlphabet) != "" {
			return "", fmt.Errorf("%s is not a secret kbs made (%d characters of letters and digits): delete it to have a new one made on the next run", path, n)
		}
		return v, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if s.dryRun {
		return strings.Repeat("x", n), nil
	}
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, x := range buf {
			// Bytes ≥ 248 are dropped so every character is equally likely.
			if x < 248 && len(out) < n {
				out = append(out, secretAlphabet[int(x)%len(secretAlphabet)])
			}
		}
	}
	if err := fsutil.WriteFileAtomic(path, append(out, '\n'), 0o600); err != nil {
		return "", err
	}
	return string(out), nil
}

// ServiceAccountKey is the service account signing key kept in
// pki/kubernetes/sa.key, or an error wrapping os.ErrNotExist.
func (s *State) ServiceAccountKey() ([]byte, error) {
	return os.ReadFile(s.path("pki", "kubernetes", "sa.key"))
}

// SaveServiceAccountKey keeps the service account key (0600); every control
// plane gets this one. A dry run writes nothing.
func (s *State) SaveServiceAccountKey(keyPEM []byte) error {
	if s.dryRun {
		return nil
	}
	if err := fsutil.EnsurePrivateDir(s.path("pki", "kubernetes")); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.path("pki", "kubernetes", "sa.key"), keyPEM, 0o600)
}
