package nodes

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// AddUser creates a login user on every node, authorized for the harness's
// client key. With a password, the user may sudo with that password (Debian's
// sudo group); without one, sudo needs no password (NOPASSWD).
func (c *Cluster) AddUser(ctx context.Context, name, password string) error {
	pub, err := os.ReadFile(c.ClientKey + ".pub")
	if err != nil {
		return err
	}
	script := fmt.Sprintf(`set -e
useradd -m -s /bin/sh %[1]s
install -d -m 0700 -o %[1]s -g %[1]s /home/%[1]s/.ssh
echo '%[2]s' > /home/%[1]s/.ssh/authorized_keys
chown %[1]s:%[1]s /home/%[1]s/.ssh/authorized_keys
`, name, strings.TrimSpace(string(pub)))
	if password != "" {
		script += fmt.Sprintf("echo '%s:%s' | chpasswd\nusermod -aG sudo %s\n", name, password, name)
	} else {
		script += fmt.Sprintf("echo '%[1]s ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/%[1]s\nchmod 0440 /etc/sudoers.d/%[1]s\n", name)
	}
	for _, n := range c.Nodes {
		if out, err := n.Exec(ctx, "sh", "-c", script); err != nil {
			return fmt.Errorf("adding user %s on %s: %v: %s", name, n.Name, err, out)
		}
	}
	return nil
}
