// Package nodecheck holds the checks the cluster tests make of what kbs
// leaves on their nodes, one copy for every cluster shape.
package nodecheck

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/test/nodes"
)

// tokenPattern is a kubeadm bootstrap token, ID and secret, as grep -E
// reads it.
const tokenPattern = `[a-z0-9]{6}\.[a-z0-9]{16}`

// NoTokenLeft checks what init and join promise about bootstrap tokens:
// the one kubeadm init used and the ones the joins used are deleted once
// done, and no text file on the named nodes — configuration, the
// kubelet's state, logs, root's home, /tmp, /run — holds one (kubeadm's
// dry run prints the token's Secret); kbs's own logs are 0600.
func NoTokenLeft(t *testing.T, cs kubernetes.Interface, c *nodes.Cluster, names ...string) {
	t.Helper()
	secrets, err := cs.CoreV1().Secrets("kube-system").List(context.Background(), metav1.ListOptions{FieldSelector: "type=bootstrap.kubernetes.io/token"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		t.Errorf("bootstrap token %s is still valid", s.Name)
	}
	for _, n := range names {
		if c.Node(n) == nil {
			t.Fatalf("no node %s in this test cluster", n)
		}
		// grep exits 1 when it finds nothing: that is the pass. -w: a
		// token is a word of its own, so dotted names of 6 and 16+
		// letters do not match.
		out := run(t, c.Node(n), "grep -rIlwE -D skip '"+tokenPattern+"' /etc /var/lib/kubelet /var/log /root /tmp /run 2>/dev/null || true")
		if out != "" {
			t.Errorf("%s: files holding a bootstrap token: %s", n, out)
		}
		if mode := run(t, c.Node(n), "stat -c '%n %a' /var/log/kbs-* 2>/dev/null | grep -v ' 600$' || true"); mode != "" {
			t.Errorf("%s: kbs logs readable by others: %s", n, mode)
		}
	}
}

func run(t *testing.T, n *nodes.Node, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := n.Exec(ctx, "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %s: %v: %s", n.Name, script, err, out)
	}
	return strings.TrimSpace(string(out))
}
