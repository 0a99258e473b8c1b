package nodes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// PowerOff cuts a node's power: every process in its cgroups is SIGKILLed
// at once, with no shutdown, as a host that loses power or crashes. Its
// root stays, so PowerOn boots it again.
func (c *Cluster) PowerOff(n *Node) {
	killCgroups(n.cgroups)
	if n.nspawn != nil {
		n.nspawn.Stop(time.Second)
	}
	n.initPID = 0
	// What a killed nspawn leaves behind and a new one trips over: the
	// host side of its veth (the kernel drops it only once nothing holds
	// the node's network namespace) and its propagation directory.
	_ = ip("link", "del", "vb-"+n.Machine)
	_ = os.RemoveAll(filepath.Join("/run/systemd/nspawn/propagate", n.Machine))
}

// PowerOn boots a powered-off node again from its root, with the same
// address, host key and authorized key, and waits until it accepts SSH.
func (c *Cluster) PowerOn(ctx context.Context, n *Node) error {
	if exited, _ := n.nspawn.Exited(); !exited {
		return fmt.Errorf("node %s is running: power it off first", n.Name)
	}
	if err := c.start(n); err != nil {
		return fmt.Errorf("starting %s again: %w", n.Name, err)
	}
	return c.waitReady(ctx, n)
}

// Node is the node called name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}
