//go:build integration

package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// tokenPattern is a kubeadm bootstrap token, ID and secret, as grep -E
// reads it.
const tokenPattern = `[a-z0-9]{6}\.[a-z0-9]{16}`

// noTokenLeft checks what init promises about bootstrap tokens: the one
// kubeadm init used and the one the joins used are deleted once done, and
// no text file on a node — configuration, the kubelet's state, logs, root's
// home, /tmp, /run — holds one (kubeadm's dry run prints the token's Secret).
func noTokenLeft(t *testing.T, cs kubernetes.Interface) {
	secrets, err := cs.CoreV1().Secrets("kube-system").List(context.Background(), metav1.ListOptions{FieldSelector: "type=bootstrap.kubernetes.io/token"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		t.Errorf("bootstrap token %s is still valid after init", s.Name)
	}
	for _, n := range []string{"etcd0", "master-0", "worker-0", "worker-1"} {
		// grep exits 1 when it finds nothing: that is the pass.
		// Every text file where kbs or what it drives could leave one:
		// /etc (kbs's and kubeadm's configuration), the kubelet's state,
		// every log, root's home, /tmp and /run. -w: a token is a word of
		// its own, so dotted names of 6 and 16+ letters do not match.
		out := onNode(t, n, "sh", "-c", "grep -rIlwE -D skip '"+tokenPattern+"' /etc /var/lib/kubelet /var/log /root /tmp /run 2>/dev/null || true")
		if strings.TrimSpace(out) != "" {
			t.Errorf("%s: files holding a bootstrap token: %s", n, out)
		}
		if mode := onNode(t, n, "sh", "-c", "stat -c '%n %a' /var/log/kbs-* 2>/dev/null | grep -v ' 600$' || true"); mode != "" {
			t.Errorf("%s: kbs logs readable by others: %s", n, mode)
		}
	}
}
