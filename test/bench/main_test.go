//go:build integration

// Package bench measures kbs against the tools it replaces, in the same run:
// pkg/remote against OpenSSH on a real node (throughput both ways, fan-out
// over 50 SSH endpoints), and `user create` against the notes' manual
// openssl + kubectl flow on the real control plane. hack/bench-*.sh run them
// and print the ratios.
package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"k8s.io/client-go/rest"

	"github.com/kubectl-kbs/kbs/test/controlplane"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

var (
	// fanout are 100 addresses of the node, each an SSH endpoint of its own
	// (one sshd answering on all, as 100 small hosts would).
	fanout     []string
	fanoutKeys string
)

const fanoutHosts = 100

// The environment each benchmark needs is started on first use, once.
var (
	cluster   *nodes.Cluster
	nodesOnce sync.Once
	nodesErr  error
	cp        *controlplane.ControlPlane
	cpOnce    sync.Once
	cpErr     error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	if cp != nil {
		cp.Stop()
	}
	os.Exit(code)
}

func needNodes(b *testing.B) {
	b.Helper()
	nodesOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if cluster, nodesErr = nodes.Boot(ctx, nodes.Options{Count: 1, Prefix: "bench"}); nodesErr == nil {
			nodesErr = addFanoutAddresses(ctx)
		}
	})
	if nodesErr != nil {
		b.Fatal(nodesErr)
	}
}

func needControlPlane(b *testing.B) {
	b.Helper()
	cpOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cp, cpErr = controlplane.Start(ctx)
	})
	if cpErr != nil {
		b.Fatal(cpErr)
	}
}

// addFanoutAddresses gives the node 100 more addresses on its bridge and lets
// sshd accept that many handshakes at once (MaxStartups), then writes a
// known_hosts with the node's key for each.
func addFanoutAddresses(ctx context.Context) error {
	n := cluster.Nodes[0]
	base := n.IP.To4()
	var script, known strings.Builder
	for i := range fanoutHosts {
		ip := net.IPv4(base[0], base[1], base[2], byte(100+i)).String()
		fanout = append(fanout, ip)
		fmt.Fprintf(&script, "ip addr add %s/24 dev host0\n", ip)
		known.WriteString(knownhosts.Line([]string{ip}, n.HostKey) + "\n")
	}
	script.WriteString("echo 'MaxStartups 200' > /etc/ssh/sshd_config.d/bench.conf\nsystemctl restart ssh.service\n")
	if out, err := n.Exec(ctx, "sh", "-c", script.String()); err != nil {
		return fmt.Errorf("adding addresses: %v: %s", err, out)
	}
	fanoutKeys = filepath.Join(cluster.Run.Path, "known_hosts_fanout")
	return os.WriteFile(fanoutKeys, []byte(known.String()), 0o600)
}

// withQPS is the admin config without client-side rate limits, for filling
// the API server quickly.
func withQPS(cp *controlplane.ControlPlane) *rest.Config {
	cfg := rest.CopyConfig(cp.AdminConfig)
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg
}
