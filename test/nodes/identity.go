package nodes

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// keyPair is an SSH key: the signer and its OpenSSH-format private key.
type keyPair struct {
	signer ssh.Signer
	pem    []byte
}

func newKeyPair(comment string) (*keyPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return &keyPair{signer: signer, pem: pem.EncodeToMemory(block)}, nil
}

func (k *keyPair) authorizedKey() []byte { return ssh.MarshalAuthorizedKey(k.signer.PublicKey()) }

// provision writes the node's per-run identity into its root filesystem:
// hostname, hosts, network settings for kbs-node-prep, the SSH host key
// (sshd uses only this one) and the authorized key of the test client.
func provision(n *Node, all []*Node, gw string, hostKey *keyPair, client ssh.PublicKey) error {
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n")
	for _, o := range all {
		fmt.Fprintf(&hosts, "%s %s\n", o.IP, o.Name)
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"etc/hostname", []byte(n.Name + "\n"), 0o644},
		{"etc/hosts", []byte(hosts.String()), 0o644},
		// A resolver that never answers (the bridge gateway runs no DNS):
		// CoreDNS forwards to the node's resolv.conf and refuses an empty
		// one, and nodes must not reach real DNS.
		{"etc/resolv.conf", fmt.Appendf(nil, "nameserver %s\noptions timeout:1 attempts:1\n", gw), 0o644},
		{"etc/kbs/node.env", fmt.Appendf(nil, "NODE_IP=%s/24\nNODE_GATEWAY=%s\n", n.IP, gw), 0o644},
		{"etc/ssh/ssh_host_ed25519_key", hostKey.pem, 0o600},
		{"etc/ssh/ssh_host_ed25519_key.pub", hostKey.authorizedKey(), 0o644},
		{"etc/ssh/sshd_config.d/kbs.conf", []byte("HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"), 0o644},
		{"root/.ssh/authorized_keys", ssh.MarshalAuthorizedKey(client), 0o600},
	}
	for _, f := range files {
		p := filepath.Join(n.Root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		// Plain writes: an fsync here would flush the whole freshly copied
		// rootfs to disk and cost seconds per file.
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	return os.Chmod(filepath.Join(n.Root, "root/.ssh"), 0o700)
}

// writeKnownHosts writes one line per node (name and IP) with its host key.
func writeKnownHosts(path string, nodes []*Node) error {
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(knownhosts.Line([]string{n.IP.String(), n.Name}, n.HostKey))
		b.WriteString("\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
