//go:build integration

package users_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// The operator's notes, in one command: mikeadmin in robotnik.io may get,
// list, watch and create deployments and pods in prod — and nothing in default.
func TestNotesMikeadmin(t *testing.T) {
	kc := kubeconfigCopy(t)
	out, err := kbs(t, kc, "user", "create", "mikeadmin", "--group", "robotnik.io", "-n", "prod", "--create-namespace",
		"--verb", "get,list,watch,create", "--resource", "deployments,pods", "--verify", "live")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "verified live: signed in as mikeadmin") {
		t.Errorf("no live verification:\n%s", out)
	}
	for _, want := range []string{"get pods in prod", "create deployments.apps in prod", "get pods in default", "kubeconfig: user and context \"mikeadmin@kbs-test\""} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The kubeconfig kept its mode and the admin entries, and gained the user.
	if fi, _ := os.Stat(kc); fi.Mode().Perm() != 0o640 {
		t.Errorf("kubeconfig mode %v, want 0640 kept", fi.Mode().Perm())
	}
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil || cfg.AuthInfos["user"] == nil || cfg.Contexts["mikeadmin@kbs-test"].Namespace != "prod" {
		t.Fatalf("merged kubeconfig: %v %+v", err, cfg)
	}
	cert, err := pki.ParseCertPEM(cfg.AuthInfos["mikeadmin@kbs-test"].ClientCertificateData)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "mikeadmin" || cert.Subject.Organization[0] != "robotnik.io" {
		t.Errorf("certificate subject %v", cert.Subject)
	}
	if life := cert.NotAfter.Sub(time.Now()); life > 24*time.Hour || life < 23*time.Hour {
		t.Errorf("certificate valid %s more, want about 24h", life)
	}
	// And for real, with the new credentials, exactly as in the notes.
	user := clientFor(t, kc, "mikeadmin@kbs-test")
	if _, err := user.CoreV1().Pods("prod").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("mikeadmin cannot list pods in prod: %v", err)
	}
	if _, err := user.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("mikeadmin listing pods in default: %v, want Forbidden", err)
	}
	if _, err := user.CoreV1().Secrets("prod").List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("mikeadmin listing secrets in prod: %v, want Forbidden", err)
	}
	rb, err := admin(t).RbacV1().RoleBindings("prod").Get(context.Background(), "kbs-user-mikeadmin", metav1.GetOptions{})
	if err != nil || rb.Labels["app.kubernetes.io/managed-by"] != "kbs" {
		t.Fatalf("binding %v %v", rb, err)
	}
}

func TestStandaloneKubeconfigWithClusterRole(t *testing.T) {
	kc := kubeconfigCopy(t)
	out := t.TempDir() + "/ana.kubeconfig"
	if o, err := kbs(t, kc, "user", "create", "ana", "-n", "kube-public", "--clusterrole", "view", "--kubeconfig-out", out, "--key-type", "rsa-2048", "--ttl", "30m"); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("standalone kubeconfig mode %v, want 0600", fi.Mode().Perm())
	}
	cfg, _ := clientcmd.LoadFromFile(out)
	if len(cfg.AuthInfos) != 1 || cfg.CurrentContext != "ana@kbs-test" {
		t.Fatalf("standalone kubeconfig: %d users, current %q", len(cfg.AuthInfos), cfg.CurrentContext)
	}
	if _, err := clientFor(t, out, "").CoreV1().ConfigMaps("kube-public").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("ana (view) cannot list configmaps in kube-public: %v", err)
	}
	if again, _ := os.ReadFile(kc); strings.Contains(string(again), "ana@") {
		t.Fatal("--kubeconfig-out also wrote into the caller's kubeconfig")
	}
}

func TestLocalCASigner(t *testing.T) {
	kc := kubeconfigCopy(t)
	before := csrCount(t)
	if o, err := kbs(t, kc, "user", "create", "bob", "-n", "default", "--clusterrole", "view", "--signer", "ca", "--ca-cert", cp.PKI.CA, "--ca-key", cp.PKI.CAKey); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	if csrCount(t) != before {
		t.Error("--signer ca created a CertificateSigningRequest")
	}
	if _, err := clientFor(t, kc, "bob@kbs-test").CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("bob (signed by the cluster CA) cannot list pods: %v", err)
	}
	// A CA the API server does not trust is refused before anything is signed or bound.
	other, _ := pki.NewCA(pki.CAOptions{CommonName: "rogue-ca"})
	dir := t.TempDir()
	other.Write(dir, "ca")
	o, err := kbs(t, kc, "user", "create", "eve", "-n", "default", "--clusterrole", "view", "--signer", "ca", "--ca-cert", dir+"/ca.crt", "--ca-key", dir+"/ca.key")
	if err == nil || !strings.Contains(err.Error(), "not among the API server's client CAs") {
		t.Fatalf("untrusted CA: %v\n%s", err, o)
	}
	if _, err := admin(t).RbacV1().RoleBindings("default").Get(context.Background(), "kbs-user-eve", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a binding was created for a refused user: %v", err)
	}
}

func TestDryRunCreatesNothing(t *testing.T) {
	kc := kubeconfigCopy(t)
	before, _ := os.ReadFile(kc)
	csrs := csrCount(t)
	out, err := kbs(t, kc, "user", "create", "dry", "-n", "default", "--verb", "get", "--resource", "pods", "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: Role", "kind: RoleBinding", "would add user \"dry@kbs-test\""} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "client-key-data") {
		t.Fatal("the plan shows key material")
	}
	after, _ := os.ReadFile(kc)
	if string(before) != string(after) || csrCount(t) != csrs {
		t.Fatal("dry run changed the kubeconfig or created a CSR")
	}
	if _, err := admin(t).RbacV1().Roles("default").Get(context.Background(), "kbs-user-dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry run created the Role: %v", err)
	}
}

// Bad input: a clear error, and nothing created.
func TestBadInputCreatesNothing(t *testing.T) {
	kc := kubeconfigCopy(t)
	before, _ := os.ReadFile(kc)
	csrs := csrCount(t)
	tests := map[string]struct {
		args []string
		want string
	}{
		"system:masters":      {[]string{"root", "--group", "system:masters", "-n", "default", "--clusterrole", "view"}, "system:masters is refused"},
		"ttl below 10m":       {[]string{"u1", "-n", "default", "--clusterrole", "view", "--ttl", "5m"}, "minimum of 10m0s"},
		"conflicting flags":   {[]string{"u2", "-n", "default", "--clusterrole", "view", "--role", "x"}, "exactly one of"},
		"invalid name":        {[]string{"Bad_Name", "-n", "default", "--clusterrole", "view"}, "user name \"Bad_Name\""},
		"unknown clusterrole": {[]string{"u3", "-n", "default", "--clusterrole", "no-such-role"}, "clusterrole no-such-role"},
		"unknown resource":    {[]string{"u4", "-n", "default", "--verb", "get", "--resource", "gizmos"}, "resource \"gizmos\" is not served"},
		"unknown verb":        {[]string{"u5", "-n", "default", "--verb", "destroy", "--resource", "pods"}, "unknown verb \"destroy\""},
		"role cluster-wide":   {[]string{"u6", "--role", "x", "--cluster-wide"}, "cannot be bound cluster-wide"},
		"unknown key type":    {[]string{"u7", "-n", "default", "--clusterrole", "view", "--key-type", "dsa"}, "unknown key type"},
		"ca without key":      {[]string{"u8", "-n", "default", "--clusterrole", "view", "--signer", "ca", "--ca-cert", "x"}, "--ca-key"},
	}
	for name, tt := range tests {
		out, err := kbs(t, kc, append([]string{"user", "create"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error mentioning %q\n%s", name, err, tt.want, out)
		}
	}
	after, _ := os.ReadFile(kc)
	if string(before) != string(after) || csrCount(t) != csrs {
		t.Fatal("bad input changed the kubeconfig or created a CSR")
	}
	l, _ := admin(t).RbacV1().RoleBindings("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kbs"})
	for _, rb := range l.Items {
		if rb.Name != "kbs-user-bob" && rb.Name != "kbs-user-ana" {
			t.Errorf("bad input left binding %s", rb.Name)
		}
	}
}
