//go:build integration

package inspect_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/inspect"
)

// kubeadm's phases run here create most of kubeadm's RBAC; the
// kubeadm:cluster-admins binding comes from the kubeconfig phase, which did
// not run, so it must show as missing. A hand-made cluster-admin binding
// shows among the admins.
func TestRBAC(t *testing.T) {
	cs := kubernetes.NewForConfigOrDie(cp.AdminConfig)
	ctx := context.Background()
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ops-admin"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "ops"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.RbacV1().ClusterRoleBindings().Delete(ctx, "ops-admin", metav1.DeleteOptions{})
	out, err := kbs(t, "inspect", "rbac", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep inspect.RBACReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, e := range rep.Expected {
		status[e.Kind+"/"+e.Name] = e.Status
	}
	if status["RoleBinding/kubeadm:bootstrap-signer-clusterinfo"] != "present" || status["ClusterRoleBinding/kubeadm:kubelet-bootstrap"] != "present" {
		t.Errorf("kubeadm's bindings: %v", status)
	}
	if status["ClusterRoleBinding/kubeadm:cluster-admins"] != "missing" {
		t.Errorf("kubeadm:cluster-admins should be missing here: %v", status)
	}
	var ops, masters bool
	for _, a := range rep.Admins {
		ops = ops || (a.Subject == "User/ops" && a.Via == "ClusterRoleBinding/ops-admin")
		masters = masters || a.Subject == "Group/system:masters"
	}
	if !ops || !masters {
		t.Errorf("admins %+v", rep.Admins)
	}
	if table, _ := kbs(t, "inspect", "rbac"); !strings.Contains(table, "User/ops") || !strings.Contains(table, "cannot be listed from the API") {
		t.Errorf("table:\n%s", table)
	}
}
