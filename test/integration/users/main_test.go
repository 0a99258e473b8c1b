//go:build integration

// Package users_test runs `kubectl kbs user create` (in process, through the
// real command tree) against the real control plane: the notes' mikeadmin
// scenario end to end, standalone kubeconfigs, a local CA, dry runs, and bad
// input that creates nothing.
package users_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/test/controlplane"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
)

var cp *controlplane.ControlPlane

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	cp, err = controlplane.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cp.Stop()
	os.Exit(code)
}

// kubeconfigCopy gives a test its own copy of the admin kubeconfig to merge into.
func kubeconfigCopy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

func kbs(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, err := kbsrun.Run(ctx, append(args, "--kubeconfig", kubeconfig)...)
	return out + errOut, err
}

func admin(t *testing.T) *kubernetes.Clientset {
	return kubernetes.NewForConfigOrDie(cp.AdminConfig)
}

// clientFor builds a client from a context of a kubeconfig file.
func clientFor(t *testing.T, path, context string) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func csrCount(t *testing.T) int {
	l, err := admin(t).CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}
