package users

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	rbacv1client "k8s.io/client-go/kubernetes/typed/rbac/v1"
)

// Objects are the RBAC objects of one user, built without a cluster: a
// Role/ClusterRole when the request gives rules, and the binding.
type Objects struct {
	Role               *rbacv1.Role
	ClusterRole        *rbacv1.ClusterRole
	RoleBinding        *rbacv1.RoleBinding
	ClusterRoleBinding *rbacv1.ClusterRoleBinding
}

// Rules turns --verb/--resource into policy rules, one per API group, with
// groups from --api-group or resolved through the mapper (pods → "",
// deployments → apps).
func (r *Request) Rules(mapper meta.RESTMapper) ([]rbacv1.PolicyRule, error) {
	byGroup := map[string][]string{}
	var order []string
	for i, res := range r.Resources {
		group, err := r.groupOf(i, res, mapper)
		if err != nil {
			return nil, err
		}
		if _, seen := byGroup[group]; !seen {
			order = append(order, group)
		}
		byGroup[group] = append(byGroup[group], res)
	}
	var rules []rbacv1.PolicyRule
	for _, g := range order {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: byGroup[g], Verbs: r.Verbs})
	}
	return rules, nil
}

// NeedsDiscovery says whether Rules needs a RESTMapper: only rules given
// without --api-group do, so other requests spare the discovery round trips.
func (r *Request) NeedsDiscovery() bool { return len(r.Verbs) > 0 && len(r.APIGroups) == 0 }

// ownRules are the rules of the role kbs makes for the request: none when it
// binds an existing Role or ClusterRole.
func (r *Request) ownRules(mapper meta.RESTMapper) ([]rbacv1.PolicyRule, error) {
	if len(r.Verbs) == 0 {
		return nil, nil
	}
	return r.Rules(mapper)
}

func (r *Request) groupOf(i int, resource string, mapper meta.RESTMapper) (string, error) {
	switch len(r.APIGroups) {
	case 1:
		return r.APIGroups[0], nil
	case len(r.Resources):
		return r.APIGroups[i], nil
	}
	if mapper == nil {
		return "", fmt.Errorf("resource %q: give --api-group (no discovery available)", resource)
	}
	gvr, err := mapper.ResourceFor(schema.GroupVersionResource{Resource: resource})
	if err != nil {
		return "", fmt.Errorf("resource %q is not served by this cluster (%v): check the name, or give --api-group", resource, err)
	}
	return gvr.Group, nil
}

// Build makes the objects for the request; rules are the Role's rules (nil
// when binding an existing role).
func (r *Request) Build(rules []rbacv1.PolicyRule) Objects {
	name, labels := ObjectName(r.Name), Labels(r.Name)
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: r.Name}}
	if r.ServiceAccount {
		subject = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.Name, Namespace: r.Namespace}}
	}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.ClusterRole}
	var o Objects
	switch {
	case r.Role != "":
		ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Role}
	case rules != nil && r.ClusterWide:
		o.ClusterRole = &rbacv1.ClusterRole{TypeMeta: tm("ClusterRole"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
		ref.Name = name
	case rules != nil:
		o.Role = &rbacv1.Role{TypeMeta: tm("Role"), ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: labels}, Rules: rules}
		ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}
	}
	if r.ClusterWide {
		o.ClusterRoleBinding = &rbacv1.ClusterRoleBinding{TypeMeta: tm("ClusterRoleBinding"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Subjects: subject, RoleRef: ref}
	} else {
		o.RoleBinding = &rbacv1.RoleBinding{TypeMeta: tm("RoleBinding"), ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: labels}, Subjects: subject, RoleRef: ref}
	}
	return o
}

func tm(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kind}
}

// List returns the objects that are set, roles before bindings (the order
// they are applied in).
func (o Objects) List() []runtime.Object {
	var out []runtime.Object
	if o.Role != nil {
		out = append(out, o.Role)
	}
	if o.ClusterRole != nil {
		out = append(out, o.ClusterRole)
	}
	if o.RoleBinding != nil {
		out = append(out, o.RoleBinding)
	}
	if o.ClusterRoleBinding != nil {
		out = append(out, o.ClusterRoleBinding)
	}
	return out
}

const fieldManager = "kbs"

// Apply creates or updates the objects with server-side apply.
func (o Objects) Apply(ctx context.Context, cs kubernetes.Interface) error {
	for _, obj := range o.List() {
		if err := applyObject(ctx, cs.RbacV1(), obj); err != nil {
			return fmt.Errorf("applying RBAC: %w", err)
		}
	}
	return nil
}

// applyObject sends one object. An unknown type is an error, not a skip: a
// kind added to Objects but not here would otherwise leave the user without
// an object that `user create` reported as made.
func applyObject(ctx context.Context, rb rbacv1client.RbacV1Interface, obj runtime.Object) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: ptrTrue()}
	switch v := obj.(type) {
	case *rbacv1.Role:
		_, err = rb.Roles(v.Namespace).Patch(ctx, v.Name, types.ApplyPatchType, b, opts)
	case *rbacv1.ClusterRole:
		_, err = rb.ClusterRoles().Patch(ctx, v.Name, types.ApplyPatchType, b, opts)
	case *rbacv1.RoleBinding:
		_, err = rb.RoleBindings(v.Namespace).Patch(ctx, v.Name, types.ApplyPatchType, b, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = rb.ClusterRoleBindings().Patch(ctx, v.Name, types.ApplyPatchType, b, opts)
	default:
		return fmt.Errorf("cannot apply a %T: only Roles, ClusterRoles and their bindings are supported (a bug in kbs: please report it)", obj)
	}
	return err
}

// EnsureNamespace creates the namespace when asked to.
func EnsureNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	b, _ := json.Marshal(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns}})
	_, err := cs.CoreV1().Namespaces().Patch(ctx, ns, types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: fieldManager})
	return err
}

func ptrTrue() *bool { t := true; return &t }
