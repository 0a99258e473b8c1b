package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Credentials are how kbs authenticates: the ssh-agent when $SSH_AUTH_SOCK is
// set, and key files. A passphrase comes from $KBS_SSH_KEY_PASSPHRASE or the
// Passphrase prompt; it is never stored.
type Credentials struct {
	// Passphrase asks for a key's passphrase; nil means do not ask.
	Passphrase func(keyFile string) ([]byte, error)
	// SudoPassword asks for the sudo password of a host when sudo needs one;
	// nil means only passwordless sudo works. $KBS_SUDO_PASSWORD wins.
	SudoPassword func(host string) ([]byte, error)
}

// authMethods returns the agent's keys (if any) and the key files' signers.
func (c *Credentials) authMethods(keyFiles []string) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	cleanup := func() {}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			cleanup = func() { conn.Close() }
			if s, err := agent.NewClient(conn).Signers(); err == nil {
				signers = append(signers, s...)
			}
		}
	}
	for _, f := range keyFiles {
		s, err := c.loadKey(f)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		signers = append(signers, s)
	}
	if len(signers) == 0 {
		cleanup()
		return nil, nil, fmt.Errorf("no SSH credentials: start ssh-agent with your key loaded, or set ssh.keyFile in the cluster spec")
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, cleanup, nil
}

func (c *Credentials) loadKey(path string) (ssh.Signer, error) {
	path = expandHome(path)
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading SSH key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		if err != nil {
			return nil, fmt.Errorf("SSH key %s: %w", path, err)
		}
		return s, nil
	}
	pass := []byte(os.Getenv("KBS_SSH_KEY_PASSPHRASE"))
	if len(pass) == 0 && c.Passphrase != nil {
		if pass, err = c.Passphrase(path); err != nil {
			return nil, err
		}
	}
	if len(pass) == 0 {
		return nil, fmt.Errorf("SSH key %s is encrypted: set KBS_SSH_KEY_PASSPHRASE, load it into ssh-agent, or run interactively", path)
	}
	s, err = ssh.ParsePrivateKeyWithPassphrase(pemBytes, pass)
	clear(pass)
	if err != nil {
		return nil, fmt.Errorf("SSH key %s: wrong passphrase or unreadable key", path)
	}
	return s, nil
}

func (c *Credentials) sudoPassword(host string) ([]byte, error) {
	if p := os.Getenv("KBS_SUDO_PASSWORD"); p != "" {
		return []byte(p), nil
	}
	if c.SudoPassword == nil {
		return nil, nil
	}
	return c.SudoPassword(host)
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}
