package users

import (
	"context"
	"reflect"
	"strings"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPermissionString(t *testing.T) {
	tests := map[string]Permission{
		"get pods in dev": {Verb: "get", Resource: "pods", Namespace: "dev"},
		"patch rolebindings.rbac.authorization.k8s.io in (cluster)": {Verb: "patch", Group: rbacv1.GroupName, Resource: "rolebindings"},
		"create serviceaccounts/token in ci":                        {Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "ci"},
	}
	for want, p := range tests {
		if got := p.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestCallerNeeds(t *testing.T) {
	const certs = "certificates.k8s.io"
	csr := Permission{Verb: "create", Group: certs, Resource: "certificatesigningrequests"}
	ledger := Permission{Verb: "patch", Resource: "configmaps", Namespace: LedgerNamespace}
	rb := Permission{Verb: "patch", Group: rbacv1.GroupName, Resource: "rolebindings", Namespace: "dev"}
	tests := []struct {
		name string
		mod  func(*Request)
		want []Permission
	}{
		{"CSR API, cluster role", func(*Request) {}, []Permission{csr, rb, ledger}},
		{"local CA needs no CSR", func(r *Request) { r.Signer = SignerCA }, []Permission{rb, ledger}},
		{"rules need the role too", func(r *Request) { r.ClusterRole, r.Verbs, r.Resources = "", []string{"get"}, []string{"pods"} },
			[]Permission{csr, rb, {Verb: "patch", Group: rbacv1.GroupName, Resource: "roles", Namespace: "dev"}, ledger}},
		{"cluster-wide rules", func(r *Request) {
			r.ClusterRole, r.Verbs, r.Resources, r.ClusterWide, r.Namespace = "", []string{"get"}, []string{"pods"}, true, ""
		}, []Permission{csr, {Verb: "patch", Group: rbacv1.GroupName, Resource: "clusterrolebindings"},
			{Verb: "patch", Group: rbacv1.GroupName, Resource: "clusterroles"}, ledger}},
		{"service account", func(r *Request) { r.ServiceAccount = true }, []Permission{
			{Verb: "patch", Resource: "serviceaccounts", Namespace: "dev"},
			{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "dev"}, rb, ledger}},
		{"create namespace", func(r *Request) { r.CreateNamespace = true },
			[]Permission{csr, rb, ledger, {Verb: "patch", Resource: "namespaces", Name: "dev"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest(tt.mod)
			if got := r.CallerNeeds(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CallerNeeds() =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestApprovalNeeds(t *testing.T) {
	got := ApprovalNeeds()
	if len(got) != 2 || got[0].Subresource != "approval" || got[1].Resource != "signers" || got[1].Name != "kubernetes.io/kube-apiserver-client" {
		t.Errorf("ApprovalNeeds() = %+v", got)
	}
}

func TestMissing(t *testing.T) {
	ctx := context.Background()
	noRoles := func(_ string, a authzv1.ResourceAttributes) bool { return a.Resource != "roles" }
	r := validRequest(func(r *Request) { r.ClusterRole, r.Verbs, r.Resources = "", []string{"get"}, []string{"pods"} })
	got, err := Missing(ctx, newFake(noRoles), r.CallerNeeds())
	want := []Permission{{Verb: "patch", Group: rbacv1.GroupName, Resource: "roles", Namespace: "dev"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Missing() = %v, %v; want %v", got, err, want)
	}
	if got, err := Missing(ctx, newFake(allowAll), r.CallerNeeds()); err != nil || len(got) != 0 {
		t.Errorf("Missing() with every permission = %v, %v; want none", got, err)
	}
	cs := newFake(allowAll)
	errorOn(cs, "create", "selfsubjectaccessreviews")
	if _, err := Missing(ctx, cs, want); err == nil || !strings.Contains(err.Error(), "checking your access (patch roles.rbac.authorization.k8s.io in dev)") {
		t.Errorf("Missing() with a failing API = %v, want the permission named", err)
	}
}

func TestVerify(t *testing.T) {
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}
	inDev := func(who string, a authzv1.ResourceAttributes) bool { return who == "ana" && a.Namespace == "dev" }
	tests := []struct {
		name string
		mod  func(*Request)
		want []Check
	}{
		{"granted in its namespace, refused in default", func(*Request) {}, []Check{
			{Permission{Verb: "get", Resource: "pods", Namespace: "dev"}, true, true},
			{Permission{Verb: "get", Resource: "pods", Namespace: "default"}, false, false},
			{Permission{Verb: "list", Resource: "pods", Namespace: "dev"}, true, true},
			{Permission{Verb: "list", Resource: "pods", Namespace: "default"}, false, false},
		}},
		{"no negative check in default itself", func(r *Request) { r.Namespace = "default" }, []Check{
			{Permission{Verb: "get", Resource: "pods", Namespace: "default"}, true, false},
			{Permission{Verb: "list", Resource: "pods", Namespace: "default"}, true, false},
		}},
		{"cluster-wide", func(r *Request) { r.ClusterWide, r.Namespace = true, "" }, []Check{
			{Permission{Verb: "get", Resource: "pods"}, true, false},
			{Permission{Verb: "list", Resource: "pods"}, true, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest(tt.mod)
			got, err := Verify(context.Background(), newFake(inDev), &r, rules)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Verify() =\n%+v, %v\nwant\n%+v", got, err, tt.want)
			}
		})
	}
}

func TestMismatches(t *testing.T) {
	checks := []Check{{Want: true, Got: true}, {Want: false, Got: true}, {Want: true, Got: false}, {}}
	if n := mismatches(checks); n != 2 {
		t.Errorf("mismatches() = %d, want 2", n)
	}
}

func TestSamplePermissions(t *testing.T) {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"pods"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"*"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"one"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	}
	want := []Permission{{Verb: "get", Resource: "pods", Subresource: "log"}}
	if got := samplePermissions(rules); !reflect.DeepEqual(got, want) {
		t.Errorf("samplePermissions() = %+v, want %+v (wildcards and named resources skipped)", got, want)
	}
	many := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"a", "b", "c", "d", "e"}, Verbs: []string{"get", "list", "watch"}}}
	if n := len(samplePermissions(many)); n != 12 {
		t.Errorf("samplePermissions() of 15 gave %d, want at most 12", n)
	}
}

func TestRulesOf(t *testing.T) {
	ctx := context.Background()
	readPods := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}
	cs := newFake(allowAll,
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "dev"}, Rules: readPods},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"}, Rules: readPods})
	own := []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"list"}}}
	tests := []struct {
		name    string
		mod     func(*Request)
		want    []rbacv1.PolicyRule
		wantErr string
	}{
		{"cluster role", func(*Request) {}, readPods, ""},
		{"role", func(r *Request) { r.ClusterRole, r.Role = "", "reader" }, readPods, ""},
		{"own rules", func(r *Request) { r.ClusterRole = "" }, own, ""},
		{"missing role", func(r *Request) { r.ClusterRole, r.Role = "", "writer" }, nil, "role dev/writer:"},
		{"missing cluster role", func(r *Request) { r.ClusterRole = "edit" }, nil, "(kubectl get clusterroles lists them)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest(tt.mod)
			got, err := RulesOf(ctx, cs, &r, own)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("RulesOf() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RulesOf() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
