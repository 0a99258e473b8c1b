//go:build integration

package inspect_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/users"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
)

func TestCertsAndWarnWindow(t *testing.T) {
	out, err := kbs(t, "inspect", "certs", "--warn-within", "30d")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"apiserver serving", "CN=kube-apiserver", "client CA", "CN=kubernetes", "kubeconfig client", "CN=kbs-test-admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("certs table lacks %q:\n%s", want, out)
		}
	}
	// A user whose client certificate expires within the window: usable
	// from cron, inspect exits non-zero and names it.
	kp, err := cp.PKI.ClusterCA().Issue(pki.CertRequest{CommonName: "short-lived", Profile: pki.ProfileClient, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(cp.PKI.CA)
	kc := filepath.Join(t.TempDir(), "short")
	if err := users.Standalone(kc, users.ClusterInfo{Name: "kbs-test", Server: cp.APIServerURL, CAData: ca}, "short", "", &users.Credentials{CertPEM: kp.CertPEM, KeyPEM: kp.KeyPEM}); err != nil {
		t.Fatal(err)
	}
	out, _, err = kbsrun.Run(context.Background(), "inspect", "certs", "--warn-within", "2h", "--kubeconfig", kc)
	if err == nil || !strings.Contains(err.Error(), "1 certificates expire within 2h") || !strings.Contains(out, "CN=short-lived") {
		t.Fatalf("short-lived client cert: %v\n%s", err, out)
	}
	if _, err := kbs(t, "inspect", "certs", "--warn-within", "soon"); err == nil || !strings.Contains(err.Error(), "30d") {
		t.Errorf("bad window: %v", err)
	}
}
