// Package nodes boots real systemd machines for tests: N systemd-nspawn
// containers from the rootfs hack/build-rootfs.sh makes, each with its own
// writable root, hostname, IP on a bridge of its own run, cgroups in every
// hierarchy, and sshd with a per-run host key and authorized key. The same
// nodes later run containerd, kubelet and etcd, so they are booted the way
// ../shared/E2E-RECIPE.md describes.
package nodes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/test/env"
)

// Options choose what to boot.
type Options struct {
	Count  int    // number of nodes; default 3
	Prefix string // host names are PREFIX-0, PREFIX-1, …; default "node"
	// Names, when set, are the host names (and Count is their number).
	Names []string
	// Keep makes the nodes outlive the process that boots them (`make
	// demo`); Attach and Stop find and remove them later.
	Keep bool
}

// Cluster is a set of running nodes on one bridge.
type Cluster struct {
	Run    *env.RunDir
	Bridge string
	Nodes  []*Node
	// Gateway is the host's address on the bridge.
	Gateway net.IP
	// KnownHosts is a known_hosts file with every node's host key.
	KnownHosts string
	// ClientKey is the private key file (OpenSSH format, 0600) every node
	// authorizes for root; ClientSigner is the same key in memory.
	ClientKey    string
	ClientSigner ssh.Signer
}

// Node is one running machine.
type Node struct {
	Name    string
	Machine string // nspawn machine name, unique across runs
	IP      net.IP
	Root    string
	HostKey ssh.PublicKey

	nspawn  *env.Process
	initPID int
	cgroups []string
}

// Boot starts the nodes and waits until each is `running` and accepts SSH.
// On error it tears down what it started.
func Boot(ctx context.Context, opts Options) (c *Cluster, err error) {
	if len(opts.Names) > 0 {
		opts.Count = len(opts.Names)
	}
	if opts.Count == 0 {
		opts.Count = 3
	}
	if opts.Prefix == "" {
		opts.Prefix = "node"
	}
	if _, err := rootfsDir(); err != nil {
		return nil, err
	}
	if err := raiseHostLimits(); err != nil {
		return nil, err
	}
	newRun := env.NewRunDir
	if opts.Keep {
		newRun = env.NewKeptRunDir
	}
	run, err := newRun("nodes")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Run: run}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err := c.setUp(opts); err != nil {
		return c, err
	}
	for _, n := range c.Nodes {
		if err := c.start(n); err != nil {
			return c, fmt.Errorf("starting %s: %w", n.Name, err)
		}
	}
	for _, n := range c.Nodes {
		if err := c.waitReady(ctx, n); err != nil {
			return c, err
		}
	}
	return c, nil
}

// setUp makes the run's network, keys and node records.
func (c *Cluster) setUp(opts Options) error {
	id := runID(c.Run.Path)
	sn, err := pickSubnet()
	if err != nil {
		return err
	}
	c.Bridge, c.Gateway = "kbs"+id, sn.gateway()
	if err := os.WriteFile(c.Run.Join("bridge"), []byte(c.Bridge), 0o600); err != nil {
		return err
	}
	if err := createBridge(c.Bridge, sn); err != nil {
		return err
	}
	client, err := newKeyPair("kbs-test-client")
	if err != nil {
		return err
	}
	c.ClientSigner, c.ClientKey = client.signer, c.Run.Join("id_ed25519")
	if err := os.WriteFile(c.ClientKey, client.pem, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(c.ClientKey+".pub", client.authorizedKey(), 0o644); err != nil {
		return err
	}
	for i := range opts.Count {
		name := fmt.Sprintf("%s-%d", opts.Prefix, i)
		if len(opts.Names) > 0 {
			name = opts.Names[i]
		}
		c.Nodes = append(c.Nodes, &Node{
			Name:    name,
			Machine: fmt.Sprintf("k%sn%d", id[:6], i),
			IP:      sn.node(i),
			Root:    c.Run.Join("roots", name),
		})
	}
	err = remote.ForEach(context.Background(), c.Nodes, len(c.Nodes), func(_ context.Context, n *Node) error {
		hk, err := newKeyPair("root@" + n.Name)
		if err != nil {
			return err
		}
		n.HostKey = hk.signer.PublicKey()
		if err := copyRoot(n); err != nil {
			return err
		}
		if err := provision(n, c.Nodes, c.Gateway.String(), hk, client.signer.PublicKey()); err != nil {
			return fmt.Errorf("provisioning %s: %w", n.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.KnownHosts = c.Run.Join("known_hosts")
	return writeKnownHosts(c.KnownHosts, c.Nodes)
}

// copyRoot gives the node a writable copy of the rootfs: containerd's
// overlayfs snapshotter cannot sit on an overlay, so no --volatile=overlay.
func copyRoot(n *Node) error {
	rootfs, err := rootfsDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(n.Root), 0o755); err != nil {
		return err
	}
	cmd := exec.Command("cp", "-a", "--reflink=auto", rootfs, n.Root)
	// A copy that outlives a killed test would race the next run's clean-up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying rootfs for %s: %v: %s", n.Name, err, out)
	}
	return nil
}

func rootfsDir() (string, error) {
	out, err := env.OutputDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(out, "rootfs", "node")
	if _, err := os.Stat(filepath.Join(dir, "etc", "kbs-rootfs-stamp")); err != nil {
		return "", fmt.Errorf("node rootfs not found in %s: run `make test` or hack/build-rootfs.sh", dir)
	}
	return dir, nil
}

func runID(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:])[:8]
}

// Stop shuts every node down cleanly (SIGRTMIN+3 to its init, as systemd
// expects of a container manager), kills what is left, and removes cgroups,
// bridge and directories.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.shutdown()
	}
	for _, n := range c.Nodes {
		n.waitGone(15 * time.Second)
	}
	if c.Run != nil {
		env.Reap(c.Run.Path)
	}
}

func init() {
	env.RegisterCleaner("nodes", reapNodes)
}

// reapNodes removes what a run made outside its directory: the cgroups
// listed in cgroups files, nspawn's propagation directories, the bridge.
func reapNodes(dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "cgroups", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		paths := strings.Fields(string(b))
		killCgroups(paths)
		for _, p := range paths {
			_ = os.Remove(filepath.Dir(p)) // the run's level; fails while other nodes remain
		}
		_ = os.RemoveAll(filepath.Join("/run/systemd/nspawn/propagate", filepath.Base(f)))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "bridge")); err == nil {
		deleteBridge(strings.TrimSpace(string(b)))
	}
}
