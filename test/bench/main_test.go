//go:build integration

// Package bench measures pkg/remote against OpenSSH on a real node, in the
// same run: file throughput both ways, and the fan-out of one command over 50
// SSH endpoints at parallelism 1 and 10. hack/bench-remote.sh runs it and
// prints the ratios.
package bench

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kubectl-kbs/kbs/test/nodes"
)

var (
	cluster *nodes.Cluster
	// fanout are 50 addresses of the node, each an SSH endpoint of its own
	// (one sshd answering on all, as 50 small hosts would).
	fanout     []string
	fanoutKeys string
)

const fanoutHosts = 50

func TestMain(m *testing.M) {
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" {
		os.Exit(m.Run()) // no benchmark asked for (make test): boot nothing
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	cluster, err = nodes.Boot(ctx, nodes.Options{Count: 1, Prefix: "bench"})
	if err == nil {
		err = addFanoutAddresses(ctx)
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

// addFanoutAddresses gives the node 50 more addresses on its bridge and lets
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
