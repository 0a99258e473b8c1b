//go:build integration

package users_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-kbs/kbs/pkg/users"
)

// A caller who may request certificates but not approve them: kbs waits
// for an approver, and an admin's denial ends it with the reason, nothing
// created.
func TestDeniedCSR(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := admin(t)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "csr-requester"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"create", "get", "list", "watch"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings", "clusterroles"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"patch"}},
	}}
	if _, err := a.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "csr-requester"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "requester"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "csr-requester"}}
	if _, err := a.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kp, err := cp.PKI.IssueClient("requester")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "requester")
	ca, _ := os.ReadFile(cp.PKI.CA)
	if err := users.Standalone(kc, users.ClusterInfo{Name: "kbs-test", Server: cp.APIServerURL, CAData: ca}, "requester", "", &users.Credentials{CertPEM: kp.CertPEM, KeyPEM: kp.KeyPEM}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(kc)

	// The admin denies the request as soon as it appears.
	w, err := a.CertificatesV1().CertificateSigningRequests().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev := range w.ResultChan() {
			req, ok := ev.Object.(*certv1.CertificateSigningRequest)
			if ev.Type != watch.Added || !ok || req.Spec.Username != "requester" {
				continue
			}
			req.Status.Conditions = append(req.Status.Conditions, certv1.CertificateSigningRequestCondition{
				Type: certv1.CertificateDenied, Status: "True", Reason: "NotOnMyWatch", Message: "denied by the test admin"})
			a.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, req.Name, req, metav1.UpdateOptions{})
		}
	}()
	defer w.Stop()
	out, err := kbs(t, kc, "user", "create", "victim", "-n", "default", "--clusterrole", "view", "--timeout", "30s")
	if err == nil || !strings.Contains(err.Error(), "was denied (NotOnMyWatch: denied by the test admin)") {
		t.Fatalf("denied CSR: %v\n%s", err, out)
	}
	if !strings.Contains(out, "waiting up to 30s for an approver") {
		t.Errorf("kbs should say it waits for an approver:\n%s", out)
	}
	if after, _ := os.ReadFile(kc); string(after) != string(before) {
		t.Error("a denied user changed the kubeconfig")
	}
	if _, err := a.RbacV1().RoleBindings("default").Get(ctx, "kbs-user-victim", metav1.GetOptions{}); err == nil {
		t.Fatal("a denied user got a binding")
	}
}
