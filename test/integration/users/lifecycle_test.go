//go:build integration

package users_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
)

// create, list, renew, delete: the ledger follows, bindings survive renewal,
// delete removes exactly kbs's objects and says the certificate stays valid.
func TestLifecycle(t *testing.T) {
	kc := kubeconfigCopy(t)
	if out, err := kbs(t, kc, "user", "create", "lc", "--group", "team", "-n", "default", "--verb", "get", "--resource", "configmaps"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := kbs(t, kc, "user", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Users []struct {
			User         string
			Certificates []struct{ Serial, Requester string }
			Bindings     []struct{ Kind, Namespace, Name string }
		}
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("user list -o json: %v\n%s", err, out)
	}
	var found bool
	for _, u := range listed.Users {
		if u.User == "lc" {
			found = true
			if u.Certificates[0].Requester != "kbs-test-admin" || u.Bindings[0].Name != "kbs-user-lc" {
				t.Errorf("ledger record %+v", u)
			}
		}
	}
	if !found {
		t.Fatalf("lc not in user list:\n%s", out)
	}
	if table, _ := kbs(t, kc, "user", "list"); !strings.Contains(table, "lc ") || !strings.Contains(table, "Role/kbs-user-lc") {
		t.Errorf("user list table:\n%s", table)
	}

	before, _ := clientcmd.LoadFromFile(kc)
	if out, err := kbs(t, kc, "user", "renew", "lc", "--ttl", "2h"); err != nil || !strings.Contains(out, "the previous one") {
		t.Fatalf("renew: %v\n%s", err, out)
	}
	after, _ := clientcmd.LoadFromFile(kc)
	if string(after.AuthInfos["lc@kbs-test"].ClientCertificateData) == string(before.AuthInfos["lc@kbs-test"].ClientCertificateData) {
		t.Fatal("renew did not replace the certificate in the kubeconfig")
	}
	if _, err := clientFor(t, kc, "lc@kbs-test").CoreV1().ConfigMaps("default").Get(context.Background(), "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
		t.Fatalf("renewed credentials do not work: %v", err)
	}

	// inspect certs watches the ledger's certificates with the cluster's own:
	// lc's renewed 2h certificate is outside a 1h window and inside a 3h one
	// (other tests' users share the ledger, so only lc's row is judged).
	for window, want := range map[string]bool{"1h": false, "3h": true} {
		out, _ := kbs(t, kc, "inspect", "certs", "--warn-within", window, "-o", "json")
		var certs struct {
			Certificates []struct {
				Name     string
				Expiring bool
			}
		}
		if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &certs); err != nil {
			t.Fatalf("inspect certs -o json: %v\n%s", err, out)
		}
		found := false
		for _, c := range certs.Certificates {
			if c.Name == "kbs user lc" {
				found = true
				if c.Expiring != want {
					t.Errorf("window %s: lc expiring=%v, want %v", window, c.Expiring, want)
				}
			}
		}
		if !found {
			t.Errorf("inspect certs does not list the ledger's lc:\n%s", out)
		}
	}
	out, err = kbs(t, kc, "user", "delete", "lc")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"deleted RoleBinding default/kbs-user-lc", "deleted Role default/kbs-user-lc", "stays valid until", "cannot revoke"} {
		if !strings.Contains(out, want) {
			t.Errorf("delete output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "stays valid until") != 2 {
		t.Errorf("both certificates (original and renewed) should be reported as still valid:\n%s", out)
	}
	gone, _ := clientcmd.LoadFromFile(kc)
	if gone.AuthInfos["lc@kbs-test"] != nil || gone.Contexts["lc@kbs-test"] != nil || gone.AuthInfos["user"] == nil {
		t.Fatal("delete should remove exactly the user's kubeconfig entries")
	}
	if _, err := admin(t).CoreV1().ConfigMaps("kube-system").Get(context.Background(), "kbs-user-lc", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ledger record survived delete: %v", err)
	}
	if _, err := clientFor(t, kc+".kbs-backup", "lc@kbs-test").CoreV1().ConfigMaps("default").Get(context.Background(), "kube-root-ca.crt", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the (still valid) certificate after delete: %v, want Forbidden", err)
	}
}

// Twenty `user create` at once into one kubeconfig lose no entry.
func TestConcurrentCreatesIntoOneKubeconfig(t *testing.T) {
	kc := kubeconfigCopy(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := kbs(t, kc, "user", "create", fmt.Sprintf("c%02d", i), "-n", "default", "--clusterrole", "view"); err != nil {
				errs <- fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if cfg.Contexts[fmt.Sprintf("c%02d@kbs-test", i)] == nil {
			t.Errorf("context c%02d lost", i)
		}
	}
}

// The notes' recommended practice: a ServiceAccount with a TokenRequest token
// in the kubeconfig; deleting it revokes the token at once.
func TestServiceAccount(t *testing.T) {
	kc := kubeconfigCopy(t)
	out, err := kbs(t, kc, "user", "create", "ci-bot", "--service-account", "-n", "default", "--clusterrole", "view", "--ttl", "1h", "--verify", "live")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "service account default/ci-bot: token valid until") || !strings.Contains(out, "get configmaps in default") {
		t.Errorf("output:\n%s", out)
	}
	cfg, _ := clientcmd.LoadFromFile(kc)
	if u := cfg.AuthInfos["ci-bot@kbs-test"]; u == nil || u.Token == "" || len(u.ClientCertificateData) > 0 {
		t.Fatalf("kubeconfig user for the service account: %+v", u)
	}
	bot := clientFor(t, kc, "ci-bot@kbs-test")
	if _, err := bot.CoreV1().ConfigMaps("default").Get(context.Background(), "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
		t.Fatalf("the token does not work: %v", err)
	}
	if out, err := kbs(t, kc, "user", "delete", "ci-bot"); err != nil || !strings.Contains(out, "deleted ServiceAccount default/ci-bot") {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	// The API server caches token authentication briefly; within that it
	// must start refusing the token.
	var last error
	refused := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = bot.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return apierrors.IsUnauthorized(last), nil
	})
	if refused != nil {
		t.Fatalf("the token still authenticates 30s after its ServiceAccount was deleted: %v", last)
	}
}
