//go:build integration

package users_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/test/controlplane"
)

// A cluster that approves CSRs but has no signer (an external CA, a managed
// control plane): user create ends within --timeout, explains, and leaves no
// binding and no kubeconfig change.
func TestNoSignerEndsWithExplanation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nosign, err := controlplane.Start(ctx, controlplane.Options{NoSigner: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nosign.Stop()
	b, _ := os.ReadFile(nosign.AdminKubeconfig)
	kc := filepath.Join(t.TempDir(), "config")
	os.WriteFile(kc, b, 0o600)
	start := time.Now()
	out, err := kbs(t, kc, "user", "create", "nobody", "-n", "default", "--clusterrole", "view", "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "approved but no certificate was issued within 5s") || !strings.Contains(err.Error(), "--signer ca") {
		t.Fatalf("no signer: %v\n%s", err, out)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s to give up, want about the 5s timeout", took)
	}
	after, _ := os.ReadFile(kc)
	if string(after) != string(b) {
		t.Error("the kubeconfig changed although no certificate was issued")
	}
	cs := kubernetes.NewForConfigOrDie(nosign.AdminConfig)
	if _, err := cs.RbacV1().RoleBindings("default").Get(ctx, "kbs-user-nobody", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a binding exists for a user without a certificate: %v", err)
	}
}
