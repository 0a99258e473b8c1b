package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// RBACObject is one object kubeadm is expected to have created.
type RBACObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"` // present, missing, changed
	Detail    string `json:"detail,omitempty"`
	Purpose   string `json:"purpose"`
}

// Admin is a subject that holds cluster-admin.
type Admin struct {
	Subject string `json:"subject"` // Kind/name
	Via     string `json:"via"`     // the binding
}

// RBACReport is `inspect rbac`.
type RBACReport struct {
	Expected []RBACObject `json:"expected"`
	Admins   []Admin      `json:"admins"`
	Masters  string       `json:"systemMasters"`
}

const bootstrappers = "system:bootstrappers:kubeadm:default-node-token"

// expectation: a binding kubeadm makes (or the role a binding refers to).
type expectation struct {
	kind, ns, name, roleRef string
	subjects                []string // Kind/name
	purpose                 string
}

var kubeadmRBAC = []expectation{
	{"ClusterRoleBinding", "", "kubeadm:kubelet-bootstrap", "system:node-bootstrapper", []string{"Group/" + bootstrappers}, "joining nodes may request their client certificate"},
	{"ClusterRoleBinding", "", "kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", []string{"Group/" + bootstrappers}, "joining nodes' certificates are approved automatically"},
	{"ClusterRoleBinding", "", "kubeadm:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", []string{"Group/system:nodes"}, "kubelets renew their client certificates"},
	{"ClusterRole", "", "kubeadm:get-nodes", "", nil, "joining nodes may check for a node of their name"},
	{"ClusterRoleBinding", "", "kubeadm:get-nodes", "kubeadm:get-nodes", []string{"Group/" + bootstrappers}, "joining nodes may check for a node of their name"},
	{"Role", "kube-system", "kubeadm:nodes-kubeadm-config", "", nil, "nodes may read kubeadm-config"},
	{"RoleBinding", "kube-system", "kubeadm:nodes-kubeadm-config", "kubeadm:nodes-kubeadm-config", []string{"Group/" + bootstrappers, "Group/system:nodes"}, "nodes may read kubeadm-config"},
	{"Role", "kube-system", "kubeadm:kubelet-config", "", nil, "nodes may read kubelet-config"},
	{"RoleBinding", "kube-system", "kubeadm:kubelet-config", "kubeadm:kubelet-config", []string{"Group/system:nodes", "Group/" + bootstrappers}, "nodes may read kubelet-config"},
	{"Role", "kube-public", "kubeadm:bootstrap-signer-clusterinfo", "", nil, "anyone may read cluster-info (join discovery)"},
	{"RoleBinding", "kube-public", "kubeadm:bootstrap-signer-clusterinfo", "kubeadm:bootstrap-signer-clusterinfo", []string{"User/system:anonymous"}, "anyone may read cluster-info (join discovery)"},
	{"ClusterRoleBinding", "", "kubeadm:cluster-admins", "cluster-admin", []string{"Group/kubeadm:cluster-admins"}, "admin.conf's group is cluster-admin (since 1.29)"},
}

// ReadRBAC checks kubeadm's RBAC objects and lists who holds cluster-admin.
func ReadRBAC(ctx context.Context, cs kubernetes.Interface) (*RBACReport, error) {
	rep := &RBACReport{Masters: "group system:masters bypasses RBAC entirely; its members are whoever holds a certificate with O=system:masters (kubeadm's super-admin.conf) and cannot be listed from the API"}
	for _, e := range kubeadmRBAC {
		obj, err := check(ctx, cs, e)
		if err != nil {
			return nil, err
		}
		rep.Expected = append(rep.Expected, obj)
	}
	admins, err := clusterAdmins(ctx, cs)
	if err != nil {
		return nil, err
	}
	rep.Admins = admins
	return rep, nil
}

func check(ctx context.Context, cs kubernetes.Interface, e expectation) (RBACObject, error) {
	o := RBACObject{Kind: e.kind, Namespace: e.ns, Name: e.name, Status: "present", Purpose: e.purpose}
	rb := cs.RbacV1()
	var ref rbacv1.RoleRef
	var subjects []rbacv1.Subject
	var err error
	switch e.kind {
	case "ClusterRole":
		_, err = rb.ClusterRoles().Get(ctx, e.name, metav1.GetOptions{})
	case "Role":
		_, err = rb.Roles(e.ns).Get(ctx, e.name, metav1.GetOptions{})
	case "ClusterRoleBinding":
		var b *rbacv1.ClusterRoleBinding
		if b, err = rb.ClusterRoleBindings().Get(ctx, e.name, metav1.GetOptions{}); err == nil {
			ref, subjects = b.RoleRef, b.Subjects
		}
	case "RoleBinding":
		var b *rbacv1.RoleBinding
		if b, err = rb.RoleBindings(e.ns).Get(ctx, e.name, metav1.GetOptions{}); err == nil {
			ref, subjects = b.RoleRef, b.Subjects
		}
	}
	if apierrors.IsNotFound(err) {
		o.Status = "missing"
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("reading %s %s: %w", e.kind, e.name, err)
	}
	if e.roleRef != "" && ref.Name != e.roleRef {
		o.Status, o.Detail = "changed", fmt.Sprintf("binds %s, kubeadm binds %s", ref.Name, e.roleRef)
	}
	have := subjectNames(subjects)
	for _, s := range e.subjects {
		if !slices.Contains(have, s) {
			o.Status, o.Detail = "changed", fmt.Sprintf("subjects %s lack %s", strings.Join(have, ","), s)
		}
	}
	return o, nil
}

func subjectNames(subjects []rbacv1.Subject) []string {
	var out []string
	for _, s := range subjects {
		name := s.Kind + "/" + s.Name
		if s.Kind == rbacv1.ServiceAccountKind {
			name = s.Kind + "/" + s.Namespace + "/" + s.Name
		}
		out = append(out, name)
	}
	return out
}

// clusterAdmins lists subjects bound to cluster-admin, cluster-wide or in
// a namespace.
func clusterAdmins(ctx context.Context, cs kubernetes.Interface) ([]Admin, error) {
	var out []Admin
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing ClusterRoleBindings: %w", err)
	}
	for _, b := range crbs.Items {
		if b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == "cluster-admin" {
			for _, s := range subjectNames(b.Subjects) {
				out = append(out, Admin{Subject: s, Via: "ClusterRoleBinding/" + b.Name})
			}
		}
	}
	rbs, err := cs.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing RoleBindings: %w", err)
	}
	for _, b := range rbs.Items {
		if b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == "cluster-admin" {
			for _, s := range subjectNames(b.Subjects) {
				out = append(out, Admin{Subject: s, Via: "RoleBinding/" + b.Namespace + "/" + b.Name + " (namespace only)"})
			}
		}
	}
	return out, nil
}
