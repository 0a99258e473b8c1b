package users

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// madeFor is what kbs makes for a user, labelled as its.
func madeFor(user string) []runtime.Object {
	m := func(ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: ObjectName(user), Namespace: ns, Labels: Labels(user)}
	}
	return []runtime.Object{
		&rbacv1.RoleBinding{ObjectMeta: m("dev")},
		&rbacv1.Role{ObjectMeta: m("dev")},
		&rbacv1.ClusterRoleBinding{ObjectMeta: m("")},
		&rbacv1.ClusterRole{ObjectMeta: m("")},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: "ci", Labels: Labels(user)}},
	}
}

// clusterWith holds the objects kbs made for ana and bob, their ledger
// records, and a RoleBinding of ana's that kbs did not make.
func clusterWith(t *testing.T, ana, bob *Record) *fake.Clientset {
	objs := append(madeFor("ana"), madeFor("bob")...)
	objs = append(objs, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ana-by-hand", Namespace: "dev"}})
	cs := newFake(allowAll, objs...)
	for _, rec := range []*Record{ana, bob} {
		if err := SaveRecord(context.Background(), cs, rec); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}

// names lists the names of the RBAC objects and service accounts in cs.
func names(t *testing.T, cs *fake.Clientset) []string {
	t.Helper()
	ctx, all := context.Background(), metav1.ListOptions{}
	var out []string
	add := func(l runtime.Object, err error) {
		if err != nil {
			t.Fatal(err)
		}
		items, _ := meta.ExtractList(l)
		for _, it := range items {
			out = append(out, it.(metav1.Object).GetName())
		}
	}
	add(cs.RbacV1().RoleBindings("").List(ctx, all))
	add(cs.RbacV1().Roles("").List(ctx, all))
	add(cs.RbacV1().ClusterRoleBindings().List(ctx, all))
	add(cs.RbacV1().ClusterRoles().List(ctx, all))
	add(cs.CoreV1().ServiceAccounts("").List(ctx, all))
	sort.Strings(out)
	return out
}

func TestDeleteObjectsRemovesExactlyTheUsers(t *testing.T) {
	ctx := context.Background()
	c := clusterWith(t, record("ana", time.Now()), record("bob", time.Now()))
	gone, err := DeleteObjects(ctx, c, "ana")
	if err != nil {
		t.Fatal(err)
	}
	want := []ObjectRef{{"ClusterRole", "", "kbs-user-ana"}, {"ClusterRoleBinding", "", "kbs-user-ana"},
		{"Role", "dev", "kbs-user-ana"}, {"RoleBinding", "dev", "kbs-user-ana"}, {"ServiceAccount", "ci", "ana"}}
	sort.Slice(gone, func(i, j int) bool { return gone[i].Kind < gone[j].Kind })
	if !reflect.DeepEqual(gone, want) {
		t.Errorf("DeleteObjects() =\n%v\nwant\n%v", gone, want)
	}
	if got := names(t, c); !reflect.DeepEqual(got, []string{"ana-by-hand", "bob", "kbs-user-bob", "kbs-user-bob", "kbs-user-bob", "kbs-user-bob"}) {
		t.Errorf("left %v: want bob's objects and the hand-made binding", got)
	}
	if _, err := GetRecord(ctx, c, "ana"); err == nil {
		t.Error("ana's ledger record survived")
	}
	if _, err := GetRecord(ctx, c, "bob"); err != nil {
		t.Errorf("bob's ledger record: %v", err)
	}
}

func TestDeleteObjectsKeepsTheRecordWhenAnObjectStays(t *testing.T) {
	ctx := context.Background()
	c := clusterWith(t, record("ana", time.Now()), record("bob", time.Now()))
	errorOn(c, "delete", "clusterroles")
	gone, err := DeleteObjects(ctx, c, "ana")
	if err == nil || !strings.Contains(err.Error(), "deleting ClusterRole kbs-user-ana: boom") || len(gone) != 4 {
		t.Errorf("DeleteObjects() = %v, %v; want 4 deleted and the ClusterRole's error", gone, err)
	}
	// The record is how `user delete` finds the user again to retry.
	if _, err := GetRecord(ctx, c, "ana"); err != nil {
		t.Errorf("ledger record after a failed delete: %v", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	kc := adminKubeconfig(t)
	if err := Merge(kc, testCluster, "ana@kbs", "dev", &Credentials{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	ana := record("ana", time.Now().Add(-time.Minute)) // expired
	ana.Certificates = append(ana.Certificates, record("ana", time.Now().Add(time.Hour)).Certificates[0])
	ana.Kubeconfig = KubeconfigRef{File: kc, Entry: "ana@kbs"}
	bob := record("bob", time.Now().Add(time.Hour))
	bob.Kubeconfig = KubeconfigRef{File: kc, Entry: "admin@kbs", Handout: true}
	c := clusterWith(t, ana, bob)

	res, err := Delete(ctx, c, "ana", []string{kc})
	if err != nil || len(res.Deleted) != 5 || res.KubeconfigFile != kc {
		t.Fatalf("Delete(ana) = %+v, %v", res, err)
	}
	if len(res.StillValid) != 1 || !res.StillValid[0].NotAfter.Equal(ana.Certificates[1].NotAfter) {
		t.Errorf("StillValid = %+v, want only the unexpired certificate", res.StillValid)
	}
	if cfg := load(t, kc); cfg.AuthInfos["ana@kbs"] != nil || cfg.Contexts["ana@kbs"] != nil {
		t.Errorf("ana is still in the kubeconfig")
	}
	// A handed-out kubeconfig is not this machine's to edit.
	if res, err := Delete(ctx, c, "bob", []string{kc}); err != nil || res.KubeconfigFile != "" || load(t, kc).Contexts["admin@kbs"] == nil {
		t.Errorf("Delete(bob) = %+v, %v; want the kubeconfig untouched", res, err)
	}
	if _, err := Delete(ctx, c, "ana", []string{kc}); err == nil || !strings.Contains(err.Error(), "not in kbs's ledger") {
		t.Errorf("Delete(ana) again = %v, want not in the ledger", err)
	}
}

func TestDeleteServiceAccountLeavesNoCertificate(t *testing.T) {
	sa := record("ci-bot", time.Now().Add(time.Hour))
	sa.ServiceAccount = true
	sa.Kubeconfig.File = "/not/on/this/machine"
	c := clusterWith(t, sa, record("bob", time.Now()))
	res, err := Delete(context.Background(), c, "ci-bot", nil)
	if err != nil || res.StillValid != nil || res.KubeconfigFile != "" {
		t.Errorf("Delete(service account) = %+v, %v; want no certificate left valid and no kubeconfig edited", res, err)
	}
}

// The ledger is a ConfigMap in kube-system: a record that names a file
// this kubectl does not read (/etc/passwd, say) gets it left alone.
func TestDeleteLeavesAnUnknownKubeconfigAlone(t *testing.T) {
	kc := adminKubeconfig(t)
	if err := Merge(kc, testCluster, "ana@kbs", "dev", &Credentials{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	ana := record("ana", time.Now().Add(time.Hour))
	ana.Kubeconfig = KubeconfigRef{File: kc, Entry: "ana@kbs"}
	res, err := Delete(context.Background(), clusterWith(t, ana, record("bob", time.Now())), "ana", []string{"/home/me/.kube/config"})
	if err != nil || res.SkippedKubeconfig != kc || res.KubeconfigFile != "" {
		t.Fatalf("Delete = %+v, %v; want %s skipped", res, err, kc)
	}
	if load(t, kc).AuthInfos["ana@kbs"] == nil {
		t.Error("the entry was removed from a kubeconfig the operator did not name")
	}
}
