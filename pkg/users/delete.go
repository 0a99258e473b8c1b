package users

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

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
	rb := cs.RbacV1()
	if l, err := rb.RoleBindings("").List(ctx, sel); err == nil {
		for _, o := range l.Items {
			del(ObjectRef{"RoleBinding", o.Namespace, o.Name}, rb.RoleBindings(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{}))
		}
	} else {
		errs = append(errs, err)
	}
	if l, err := rb.ClusterRoleBindings().List(ctx, sel); err == nil {
		for _, o := range l.Items {
			del(ObjectRef{"ClusterRoleBinding", "", o.Name}, rb.ClusterRoleBindings().Delete(ctx, o.Name, metav1.DeleteOptions{}))
		}
	} else {
		errs = append(errs, err)
	}
	if l, err := rb.Roles("").List(ctx, sel); err == nil {
		for _, o := range l.Items {
			del(ObjectRef{"Role", o.Namespace, o.Name}, rb.Roles(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{}))
		}
	} else {
		errs = append(errs, err)
	}
	if l, err := rb.ClusterRoles().List(ctx, sel); err == nil {
		for _, o := range l.Items {
			del(ObjectRef{"ClusterRole", "", o.Name}, rb.ClusterRoles().Delete(ctx, o.Name, metav1.DeleteOptions{}))
		}
	} else {
		errs = append(errs, err)
	}
	if l, err := cs.CoreV1().ServiceAccounts("").List(ctx, sel); err == nil {
		for _, o := range l.Items {
			del(ObjectRef{"ServiceAccount", o.Namespace, o.Name}, cs.CoreV1().ServiceAccounts(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{}))
		}
	} else {
		errs = append(errs, err)
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
