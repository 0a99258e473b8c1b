package users

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// grantedIn lets the caller do anything and the reviewed user anything in ns.
func grantedIn(ns string) policy {
	return func(who string, a authzv1.ResourceAttributes) bool { return who == "" || a.Namespace == ns }
}

// view is the cluster role the tests bind: read pods.
var view = &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"},
	Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}

// createInput is a `user create ana -n dev --clusterrole view` merging into
// a kubeconfig of its own; mod changes it for a case.
func createInput(t *testing.T, cs *fakeClientset, mod ...func(*CreateInput)) CreateInput {
	in := CreateInput{Request: validRequest(), Client: cs, Cluster: testCluster, Timeout: 300 * time.Millisecond,
		Access: &clientcmd.ClientConfigLoadingRules{ExplicitPath: adminKubeconfig(t)}}
	for _, m := range mod {
		m(&in)
	}
	return in
}

// sent lists the requests that change something (anything but reviews and reads).
func sent(cs *fakeClientset) []string {
	var out []string
	for _, a := range actions(cs) {
		if !strings.Contains(a, "review") && !strings.HasPrefix(a, "get ") && !strings.HasPrefix(a, "list ") && !strings.HasPrefix(a, "watch ") {
			out = append(out, a)
		}
	}
	return out
}

func TestCreateDryRunChangesNothing(t *testing.T) {
	cs := newFake(allowAll)
	out := filepath.Join(t.TempDir(), "ana.kubeconfig")
	in := createInput(t, cs, func(in *CreateInput) {
		in.Request.ClusterRole, in.Request.Verbs, in.Request.Resources = "", []string{"get"}, []string{"deployments"}
		in.Mapper, in.KubeconfigOut, in.DryRun = testMapper(), out, true
	})
	res, err := Create(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Entry != "ana@kbs" || res.Kubeconfig != out || res.Record != nil {
		t.Errorf("dry run result: %+v", res)
	}
	if res.Objects.Role == nil || res.Objects.Role.Rules[0].APIGroups[0] != "apps" || res.Objects.RoleBinding == nil {
		t.Errorf("dry run objects: %+v; want a Role for apps deployments and its binding", res.Objects)
	}
	if s := sent(cs); len(s) != 0 {
		t.Errorf("a dry run sent %v", s)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a dry run wrote the kubeconfig")
	}
}

func TestCreateRefusesBeforeMakingAnything(t *testing.T) {
	noBindings := func(who string, a authzv1.ResourceAttributes) bool { return a.Resource != "rolebindings" }
	tests := []struct {
		name    string
		allow   policy
		mod     func(*CreateInput)
		wantErr string
	}{
		{"caller may not bind", noBindings, func(*CreateInput) {},
			"you may not: patch rolebindings.rbac.authorization.k8s.io in dev; nothing was created (ask a cluster admin"},
		{"role to bind is missing", allowAll, func(in *CreateInput) { in.Request.ClusterRole, in.Request.Role = "", "reader" }, "role dev/reader:"},
		{"rules without discovery", allowAll, func(in *CreateInput) {
			in.Request.ClusterRole, in.Request.Verbs, in.Request.Resources = "", []string{"get"}, []string{"pods"}
		}, "give --api-group"},
		{"nobody approves the CSR", mayNotApprove, func(*CreateInput) {}, "was neither approved nor denied within 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newFake(tt.allow, view)
			res, err := Create(context.Background(), createInput(t, cs, tt.mod))
			if res != nil || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Create() = %+v, %v; want no result and %q", res, err, tt.wantErr)
			}
			for _, a := range sent(cs) {
				if a != "create certificatesigningrequests" { // the unanswered CSR is the only trace
					t.Errorf("refused request sent %q", a)
				}
			}
		})
	}
}

func TestCreateWaitsForAnApprover(t *testing.T) {
	var logged []string
	in := createInput(t, newFake(mayNotApprove, view), func(in *CreateInput) {
		in.Log = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	})
	if _, err := Create(context.Background(), in); err == nil {
		t.Fatal("Create() succeeded without an approver")
	}
	want := "you may not approve certificate requests: waiting up to 300ms for an approver (kubectl certificate approve kbs-ana-"
	if len(logged) != 1 || !strings.HasPrefix(logged[0], want) {
		t.Errorf("logged %q, want one line starting %q", logged, want)
	}
}

func TestCreateWithLocalCA(t *testing.T) {
	ctx := context.Background()
	ca := newTestCA(t)
	cs := newFake(grantedIn("dev"), view, clientCAs(ca))
	in := createInput(t, cs, func(in *CreateInput) {
		r := &in.Request
		r.Groups, r.Signer, r.CACert, r.CAKey, r.CreateNamespace = []string{"ops"}, SignerCA, ca.certFile, ca.keyFile, true
	})
	res, err := Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	kc := in.Access.GetExplicitFile()
	if res.Entry != "ana@kbs" || res.Kubeconfig != kc || !res.Verified || res.Live || len(res.Checks) != 4 {
		t.Errorf("result: %+v", res)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "dev", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace dev: %v", err)
	}
	if rb, err := cs.RbacV1().RoleBindings("dev").Get(ctx, "kbs-user-ana", metav1.GetOptions{}); err != nil || rb.RoleRef.Name != "view" {
		t.Errorf("RoleBinding: %+v, %v", rb, err)
	}
	u := load(t, kc).AuthInfos["ana@kbs"]
	if u == nil || !reflect.DeepEqual(u.ClientCertificateData, res.Credentials.CertPEM) {
		t.Errorf("kubeconfig user: %+v; want the issued certificate", u)
	}
	saved, err := GetRecord(ctx, cs, "ana")
	if err != nil || !reflect.DeepEqual(saved, res.Record) {
		t.Fatalf("ledger holds %+v (%v), want the result's %+v", saved, err, res.Record)
	}
	c := saved.Current()
	if c.Signer != SignerCA || c.Requester != "admin" || c.KeyType != "ecdsa-p256" || saved.RoleRef != "ClusterRole/view" ||
		saved.Kubeconfig != (KubeconfigRef{File: kc, Entry: "ana@kbs"}) || !reflect.DeepEqual(saved.Groups, []string{"ops"}) {
		t.Errorf("record: %+v", saved)
	}
}

func TestCreateWithCSRAPI(t *testing.T) {
	ca := newTestCA(t)
	cs := newFake(grantedIn("dev"), view)
	signOnApproval(cs, ca)
	res, err := Create(context.Background(), createInput(t, cs, func(in *CreateInput) { in.ContextName = "ana" }))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Record.Current()
	if res.Entry != "ana" || c.Signer != SignerAPI || c.CSR != res.Credentials.CSRName || !strings.HasPrefix(c.CSR, "kbs-ana-") {
		t.Errorf("result %+v with certificate %+v", res, c)
	}
	if !slices.Contains(sent(cs), "update certificatesigningrequests/approval") {
		t.Errorf("kbs did not approve its CSR: sent %v", sent(cs))
	}
}

func TestCreateServiceAccount(t *testing.T) {
	ctx := context.Background()
	cs := newFake(func(who string, a authzv1.ResourceAttributes) bool {
		return who == "" || (who == "system:serviceaccount:dev:ana" && a.Namespace == "dev")
	}, view)
	out := filepath.Join(t.TempDir(), "ana.kubeconfig")
	res, err := Create(ctx, createInput(t, cs, func(in *CreateInput) { in.Request.ServiceAccount, in.KubeconfigOut = true, out }))
	if err != nil {
		t.Fatal(err)
	}
	if u := load(t, out).AuthInfos["ana@kbs"]; u == nil || u.Token != "token-of-dev" {
		t.Errorf("handed-out kubeconfig user: %+v", u)
	}
	rec := res.Record
	if !rec.ServiceAccount || rec.Current().Serial != "token" || !rec.Kubeconfig.Handout || rec.Kubeconfig.File != out {
		t.Errorf("record: %+v", rec)
	}
	rb, err := cs.RbacV1().RoleBindings("dev").Get(ctx, "kbs-user-ana", metav1.GetOptions{})
	if err != nil || rb.Subjects[0].Kind != rbacv1.ServiceAccountKind {
		t.Errorf("RoleBinding: %+v, %v; want the service account bound", rb, err)
	}
}

func TestCreateReportsMismatches(t *testing.T) {
	ca := newTestCA(t)
	cs := newFake(allowAll, view, clientCAs(ca)) // the user may read pods everywhere
	res, err := Create(context.Background(), createInput(t, cs, func(in *CreateInput) {
		in.Request.Signer, in.Request.CACert, in.Request.CAKey = SignerCA, ca.certFile, ca.keyFile
	}))
	if err == nil || !strings.Contains(err.Error(), "2 access checks differ from what was asked") {
		t.Fatalf("Create() error = %v, want 2 mismatches", err)
	}
	// The user exists: the result says so, with the table to act on.
	if res == nil || res.Record == nil || !res.Verified || mismatches(res.Checks) != 2 {
		t.Errorf("result: %+v", res)
	}
}

func TestRoleRef(t *testing.T) {
	made := []ObjectRef{{"Role", "dev", "kbs-user-ana"}}
	tests := []struct {
		name string
		mod  func(*Request)
		made []ObjectRef
		want string
	}{
		{"cluster role", func(*Request) {}, nil, "ClusterRole/view"},
		{"existing role", func(r *Request) { r.ClusterRole, r.Role = "", "reader" }, nil, "Role/reader"},
		{"role kbs made", func(r *Request) { r.ClusterRole = "" }, made, "Role/kbs-user-ana"},
	}
	for _, tt := range tests {
		r := validRequest(tt.mod)
		if got := r.roleRef(tt.made); got != tt.want {
			t.Errorf("%s: roleRef() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
