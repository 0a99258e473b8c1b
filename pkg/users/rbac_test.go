package users

import (
	"context"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// testMapper serves pods and configmaps in the core group and deployments
// in apps, as discovery would.
func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Pod"}, {Version: "v1", Kind: "ConfigMap"}, {Group: "apps", Version: "v1", Kind: "Deployment"},
	} {
		m.Add(gvk, meta.RESTScopeNamespace)
	}
	return m
}

func TestRules(t *testing.T) {
	verbs := []string{"get", "list"}
	tests := []struct {
		name      string
		resources []string
		groups    []string
		mapper    meta.RESTMapper
		want      []rbacv1.PolicyRule
		wantErr   string
	}{
		{"grouped by discovery, in order of first use", []string{"deployments", "pods", "configmaps"}, nil, testMapper(), []rbacv1.PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: verbs},
			{APIGroups: []string{""}, Resources: []string{"pods", "configmaps"}, Verbs: verbs},
		}, ""},
		{"one group for all", []string{"widgets", "gadgets"}, []string{"example.com"}, nil, []rbacv1.PolicyRule{
			{APIGroups: []string{"example.com"}, Resources: []string{"widgets", "gadgets"}, Verbs: verbs},
		}, ""},
		{"one group each", []string{"pods", "deployments"}, []string{"", "apps"}, nil, []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: verbs},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: verbs},
		}, ""},
		{"no discovery", []string{"pods"}, nil, nil, nil, `resource "pods": give --api-group (no discovery available)`},
		{"not served", []string{"widgets"}, nil, testMapper(), nil, `resource "widgets" is not served by this cluster`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest(func(r *Request) {
				r.ClusterRole, r.Verbs, r.Resources, r.APIGroups = "", verbs, tt.resources, tt.groups
			})
			got, err := r.Rules(tt.mapper)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Rules() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Rules() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestNeedsDiscovery(t *testing.T) {
	tests := map[string]struct {
		mod  func(*Request)
		want bool
	}{
		"binding a cluster role":  {func(*Request) {}, false},
		"rules without api group": {func(r *Request) { r.ClusterRole, r.Verbs, r.Resources = "", []string{"get"}, []string{"pods"} }, true},
		"rules with api group": {func(r *Request) {
			r.ClusterRole, r.Verbs, r.Resources, r.APIGroups = "", []string{"get"}, []string{"pods"}, []string{""}
		}, false},
	}
	for name, tt := range tests {
		r := validRequest(tt.mod)
		if got := r.NeedsDiscovery(); got != tt.want {
			t.Errorf("%s: NeedsDiscovery() = %v, want %v", name, got, tt.want)
		}
	}
}

func TestBuild(t *testing.T) {
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}
	user := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "ana"}}
	tests := []struct {
		name         string
		mod          func(*Request)
		rules        []rbacv1.PolicyRule
		wantBindings []ObjectRef
		wantRoles    []ObjectRef
		wantRef      rbacv1.RoleRef
		wantSubjects []rbacv1.Subject
	}{
		{"cluster role in a namespace", func(*Request) {}, nil,
			[]ObjectRef{{"RoleBinding", "dev", "kbs-user-ana"}}, nil,
			rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}, user},
		{"existing role", func(r *Request) { r.ClusterRole, r.Role = "", "reader" }, nil,
			[]ObjectRef{{"RoleBinding", "dev", "kbs-user-ana"}}, nil,
			rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"}, user},
		{"rules make a role", func(r *Request) { r.ClusterRole = "" }, rules,
			[]ObjectRef{{"RoleBinding", "dev", "kbs-user-ana"}}, []ObjectRef{{"Role", "dev", "kbs-user-ana"}},
			rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "kbs-user-ana"}, user},
		{"rules cluster-wide make a cluster role", func(r *Request) { r.ClusterRole, r.ClusterWide, r.Namespace = "", true, "" }, rules,
			[]ObjectRef{{"ClusterRoleBinding", "", "kbs-user-ana"}}, []ObjectRef{{"ClusterRole", "", "kbs-user-ana"}},
			rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kbs-user-ana"}, user},
		{"cluster role cluster-wide", func(r *Request) { r.ClusterWide, r.Namespace = true, "" }, nil,
			[]ObjectRef{{"ClusterRoleBinding", "", "kbs-user-ana"}}, nil,
			rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}, user},
		{"service account subject", func(r *Request) { r.ServiceAccount = true }, nil,
			[]ObjectRef{{"RoleBinding", "dev", "kbs-user-ana"}}, nil,
			rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			[]rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "ana", Namespace: "dev"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest(tt.mod)
			o := r.Build(tt.rules)
			bindings, roles := o.Refs()
			if !reflect.DeepEqual(bindings, tt.wantBindings) || !reflect.DeepEqual(roles, tt.wantRoles) {
				t.Errorf("Refs() = %v, %v; want %v, %v", bindings, roles, tt.wantBindings, tt.wantRoles)
			}
			ref, subjects, labels := bindingOf(o)
			if ref != tt.wantRef || !reflect.DeepEqual(subjects, tt.wantSubjects) {
				t.Errorf("binding refers to %+v for %+v; want %+v for %+v", ref, subjects, tt.wantRef, tt.wantSubjects)
			}
			if !reflect.DeepEqual(labels, Labels("ana")) {
				t.Errorf("binding labels = %v, want %v", labels, Labels("ana"))
			}
		})
	}
}

func bindingOf(o Objects) (rbacv1.RoleRef, []rbacv1.Subject, map[string]string) {
	if b := o.ClusterRoleBinding; b != nil {
		return b.RoleRef, b.Subjects, b.Labels
	}
	return o.RoleBinding.RoleRef, o.RoleBinding.Subjects, o.RoleBinding.Labels
}

func TestListPutsRolesFirst(t *testing.T) {
	o := Objects{
		ClusterRoleBinding: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "crb"}},
		RoleBinding:        &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "rb"}},
		ClusterRole:        &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cr"}},
		Role:               &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r"}},
	}
	var got []string
	for _, obj := range o.List() {
		got = append(got, obj.(metav1.Object).GetName())
	}
	if want := []string{"r", "cr", "rb", "crb"}; !reflect.DeepEqual(got, want) {
		t.Errorf("List() = %v, want %v", got, want)
	}
	if n := len((Objects{}).List()); n != 0 {
		t.Errorf("List() of nothing has %d objects", n)
	}
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	cs := newFake(allowAll)
	r := validRequest(func(r *Request) { r.ClusterRole = "" })
	o := r.Build([]rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}})
	// Twice: applying is idempotent, as `user create` run again must be.
	for i := 0; i < 2; i++ {
		if err := o.Apply(ctx, cs); err != nil {
			t.Fatalf("Apply #%d: %v", i+1, err)
		}
	}
	role, err := cs.RbacV1().Roles("dev").Get(ctx, "kbs-user-ana", metav1.GetOptions{})
	if err != nil || !reflect.DeepEqual(role.Rules, o.Role.Rules) {
		t.Errorf("Role after Apply: %+v, %v; want rules %+v", role, err, o.Role.Rules)
	}
	rb, err := cs.RbacV1().RoleBindings("dev").Get(ctx, "kbs-user-ana", metav1.GetOptions{})
	if err != nil || rb.RoleRef.Name != "kbs-user-ana" || rb.Labels["kbs.kubectl-kbs.io/user"] != "ana" {
		t.Errorf("RoleBinding after Apply: %+v, %v", rb, err)
	}
}

func TestApplyWrapsErrors(t *testing.T) {
	cs := newFake(allowAll)
	errorOn(cs, "patch", "rolebindings")
	r := validRequest()
	err := r.Build(nil).Apply(context.Background(), cs)
	if err == nil || !strings.HasPrefix(err.Error(), "applying RBAC: ") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Apply() = %v, want the API's error wrapped as applying RBAC", err)
	}
}

func TestApplyObjectRefusesUnknownTypes(t *testing.T) {
	cs := newFake(allowAll)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "dev"}}
	err := applyObject(context.Background(), cs.RbacV1(), cm)
	if err == nil || !strings.Contains(err.Error(), "cannot apply a *v1.ConfigMap") {
		t.Errorf("applyObject(ConfigMap) = %v, want an error naming the type", err)
	}
	if len(cs.Actions()) != 0 {
		t.Errorf("applyObject sent %v for an unknown type", actions(cs))
	}
}

func TestEnsureNamespace(t *testing.T) {
	ctx := context.Background()
	cs := newFake(allowAll)
	for i := 0; i < 2; i++ { // a namespace that exists is fine
		if err := EnsureNamespace(ctx, cs, "prod"); err != nil {
			t.Fatalf("EnsureNamespace #%d: %v", i+1, err)
		}
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "prod", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace prod: %v", err)
	}
}
