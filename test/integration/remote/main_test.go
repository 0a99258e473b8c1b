//go:build integration

// Package remote_test runs pkg/remote against real sshd on real systemd
// nodes: strict host keys, connection reuse, atomic file transfer, sudo with
// and without a password, a bastion, ~/.ssh/config aliases, cancellation.
package remote_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/nodes"
)

var cluster *nodes.Cluster

// Users created on every node: ops needs its password for sudo, nopw does not.
const (
	opsPassword = "correct horse battery staple"
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	cluster, err = nodes.Boot(ctx, nodes.Options{Count: 2, Prefix: "rnode"})
	if err == nil {
		err = addUsers(ctx)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if cluster != nil {
			cluster.Stop()
		}
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

func addUsers(ctx context.Context) error {
	pub, err := os.ReadFile(cluster.ClientKey + ".pub")
	if err != nil {
		return err
	}
	script := fmt.Sprintf(`set -e
for u in ops nopw; do
  useradd -m -s /bin/sh "$u"
  install -d -m 0700 -o "$u" -g "$u" /home/$u/.ssh
  echo '%s' > /home/$u/.ssh/authorized_keys
  chown "$u:$u" /home/$u/.ssh/authorized_keys
done
echo 'ops:%s' | chpasswd
usermod -aG sudo ops
echo 'nopw ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/nopw
chmod 0440 /etc/sudoers.d/nopw`, strings.TrimSpace(string(pub)), opsPassword)
	for _, n := range cluster.Nodes {
		if out, err := n.Exec(ctx, "sh", "-c", script); err != nil {
			return fmt.Errorf("adding users on %s: %v: %s", n.Name, err, out)
		}
	}
	return nil
}
