package users

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
)

// DeleteResult is what Delete removed, as far as it got.
type DeleteResult struct {
	Record  *Record
	Deleted []ObjectRef
	// KubeconfigFile is the kubeconfig the user and context were removed
	// from; empty when none was (a handed-out file, or one not on this
	// machine).
	KubeconfigFile string
	// SkippedKubeconfig is the file the record names but that is not one
	// this kubectl reads: left untouched.
	SkippedKubeconfig string
	// StillValid are the unexpired certificates: Kubernetes cannot revoke
	// client certificates, so they outlive the deletion.
	StillValid []CertRecord
}

// Delete removes everything kbs made for a user in the ledger: its RBAC
// objects, service account, record, and its entry in the kubeconfig the
// record names. With an error, the result lists what was deleted before it.
//
// The record is a ConfigMap in kube-system, so the kubeconfig it names is
// edited only when it is one of kubeconfigs, the files this kubectl reads;
// otherwise it is left alone and Skipped says so.
func Delete(ctx context.Context, cs kubernetes.Interface, user string, kubeconfigs []string) (*DeleteResult, error) {
	rec, err := GetRecord(ctx, cs, user)
	if err != nil {
		return nil, err
	}
	res := &DeleteResult{Record: rec}
	if res.Deleted, err = DeleteObjects(ctx, cs, user); err != nil {
		return res, err
	}
	if k := rec.Kubeconfig; !k.Handout && !isOneOf(k.File, kubeconfigs) {
		res.SkippedKubeconfig = k.File
	} else if !k.Handout {
		edited, err := RemoveEntry(k.File, k.Entry)
		if err != nil {
			return res, err
		}
		if edited {
			res.KubeconfigFile = k.File
		}
	}
	if !rec.ServiceAccount {
		res.StillValid = unexpired(rec.Certificates, time.Now())
	}
	return res, nil
}

func unexpired(certs []CertRecord, now time.Time) []CertRecord {
	var out []CertRecord
	for _, c := range certs {
		if now.Before(c.NotAfter) {
			out = append(out, c)
		}
	}
	return out
}

// DeleteObjects removes every RBAC object kbs made for user — found by label,
// so exactly those, wherever they are — and the ledger record. It returns
// what it deleted.
func DeleteObjects(ctx context.Context, cs kubernetes.Interface, user string) ([]ObjectRef, error) {
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kbs,kbs.kubectl-kbs.io/user=" + user}
	var gone []ObjectRef
	var errs []error
	del := func(ref ObjectRef, err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s: %w", ref.Kind, ref.Name, err))
			return
		}
		gone = append(gone, ref)
	}
	rb, core := cs.RbacV1(), cs.CoreV1()
	// Each kind: list kbs's objects of the user, and delete one of them.
	kinds := []struct {
		kind string
		list func() ([]metav1.Object, error)
		del  func(ns, name string) error
	}{
		{"RoleBinding", listOf(func() (*rbacv1.RoleBindingList, error) { return rb.RoleBindings("").List(ctx, sel) }),
			func(ns, n string) error { return rb.RoleBindings(ns).Delete(ctx, n, metav1.DeleteOptions{}) }},
		{"ClusterRoleBinding", listOf(func() (*rbacv1.ClusterRoleBindingList, error) { return rb.ClusterRoleBindings().List(ctx, sel) }),
			func(_, n string) error { return rb.ClusterRoleBindings().Delete(ctx, n, metav1.DeleteOptions{}) }},
		{"Role", listOf(func() (*rbacv1.RoleList, error) { return rb.Roles("").List(ctx, sel) }),
			func(ns, n string) error { return rb.Roles(ns).Delete(ctx, n, metav1.DeleteOptions{}) }},
		{"ClusterRole", listOf(func() (*rbacv1.ClusterRoleList, error) { return rb.ClusterRoles().List(ctx, sel) }),
			func(_, n string) error { return rb.ClusterRoles().Delete(ctx, n, metav1.DeleteOptions{}) }},
		{"ServiceAccount", listOf(func() (*corev1.ServiceAccountList, error) { return core.ServiceAccounts("").List(ctx, sel) }),
			func(ns, n string) error { return core.ServiceAccounts(ns).Delete(ctx, n, metav1.DeleteOptions{}) }},
	}
	for _, k := range kinds {
		objs, err := k.list()
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %ss: %w", k.kind, err))
			continue
		}
		for _, o := range objs {
			del(ObjectRef{k.kind, o.GetNamespace(), o.GetName()}, k.del(o.GetNamespace(), o.GetName()))
		}
	}
	if len(errs) > 0 {
		return gone, errors.Join(errs...)
	}
	err := cs.CoreV1().ConfigMaps(LedgerNamespace).Delete(ctx, ObjectName(user), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return gone, fmt.Errorf("deleting the ledger record: %w", err)
	}
	return gone, nil
}

// listOf adapts a typed List call to a list of object metadata.
func listOf[L any](list func() (L, error)) func() ([]metav1.Object, error) {
	return func() ([]metav1.Object, error) {
		l, err := list()
		if err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(any(l).(runtime.Object))
		if err != nil {
			return nil, err
		}
		out := make([]metav1.Object, 0, len(items))
		for _, it := range items {
			if o, ok := it.(metav1.Object); ok {
				out = append(out, o)
			}
		}
		return out, nil
	}
}
