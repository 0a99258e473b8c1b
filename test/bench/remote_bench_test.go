//go:build integration

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kevinburke/ssh_config"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

const payload = 256 << 20

func payloadFile(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "payload")
	data := make([]byte, payload)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func dial(b *testing.B, known, addr string) remote.Conn {
	b.Helper()
	d := &remote.Dialer{HostKeys: &remote.HostKeys{Files: []string{known}}, SSHConfig: &ssh_config.Config{}}
	b.Cleanup(func() { d.Close() })
	c, err := d.Dial(context.Background(), remote.Target{Name: addr, Address: addr, User: "root", KeyFile: cluster.ClientKey})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func openssh(args ...string) *exec.Cmd {
	base := []string{"-i", cluster.ClientKey, "-o", "UserKnownHostsFile=" + cluster.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "root@" + cluster.Nodes[0].IP.String()}
	return exec.Command("ssh", append(base, args...)...)
}

// BenchmarkCopy moves 256 MiB to the node and back, with pkg/remote
// (WriteFile is atomic: temp file, sync, rename) and with `ssh host cat`.
func BenchmarkCopy(b *testing.B) {
	needNodes(b)
	src := payloadFile(b)
	b.Run("upload/kbs", func(b *testing.B) {
		c := dial(b, cluster.KnownHosts, cluster.Nodes[0].IP.String())
		b.SetBytes(payload)
		for b.Loop() {
			f, _ := os.Open(src)
			if err := c.WriteFile(context.Background(), "/root/payload-kbs", f, 0o600, ""); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("upload/openssh", func(b *testing.B) {
		b.SetBytes(payload)
		for b.Loop() {
			f, _ := os.Open(src)
			cmd := openssh("cat > /root/payload-ssh && sync /root/payload-ssh")
			cmd.Stdin = f
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			f.Close()
		}
	})
	b.Run("download/kbs", func(b *testing.B) {
		c := dial(b, cluster.KnownHosts, cluster.Nodes[0].IP.String())
		b.SetBytes(payload)
		for b.Loop() {
			if err := c.ReadFile(context.Background(), "/root/payload-kbs", io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("download/openssh", func(b *testing.B) {
		b.SetBytes(payload)
		for b.Loop() {
			cmd := openssh("cat /root/payload-ssh")
			cmd.Stdout = io.Discard
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Run(); err != nil {
				b.Fatalf("%v: %s", err, errOut.String())
			}
		}
	})
}

// BenchmarkFanOut runs `true` on 50 SSH endpoints, each dialed fresh (the
// handshake is the cost that matters), at parallelism 1 and 10.
func BenchmarkFanOut(b *testing.B) {
	needNodes(b)
	for _, par := range []int{1, 10} {
		b.Run(fmt.Sprintf("parallel-%d", par), func(b *testing.B) {
			for b.Loop() {
				d := &remote.Dialer{HostKeys: &remote.HostKeys{Files: []string{fanoutKeys}}, SSHConfig: &ssh_config.Config{}}
				err := remote.ForEach(context.Background(), fanout[:50], par, func(ctx context.Context, addr string) error {
					c, err := d.Dial(ctx, remote.Target{Name: addr, Address: addr, User: "root", KeyFile: cluster.ClientKey})
					if err != nil {
						return err
					}
					_, err = c.Run(ctx, "true")
					return err
				})
				d.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
