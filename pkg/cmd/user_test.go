package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kbs/kbs/pkg/users"
)

// Bad flags of the user verbs stop before any connection: there is no
// cluster here, so an error that is not the flag's would be the connection's.
func TestUserFlagsCheckedFirst(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "list", "-o", "wide"}, `unknown --output "wide": use -o json`},
		{[]string{"user", "renew", "ana", "--ttl", "5m"}, "--ttl 5m0s is below the minimum of 10m0s"},
		{[]string{"user", "create", "ana", "-n", "dev"}, "give exactly one of --role, --clusterrole, or --verb with --resource"},
		{[]string{"user", "create", "ana", "-n", "dev", "--clusterrole", "view", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"user", "create", "ana", "-n", "dev", "--clusterrole", "view", "--verify", "both"}, `unknown --verify "both": use review or live`},
		{[]string{"user", "create", "ana", "-n", "dev", "--clusterrole", "view", "--group", "system:masters"}, "group system:masters is refused"},
	} {
		if _, _, err := run(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestUserCreatePrintsTheAccessTable(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := &UserCreateOptions{userBase: userBase{IOStreams: streams}}
	o.Request = users.Request{Name: "ana", Groups: []string{"ops"}, Namespace: "dev"}
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	res := &users.CreateResult{
		Entry: "ana@kbs", Kubeconfig: "/tmp/config", Verified: true, Live: true,
		Record: &users.Record{Certificates: []users.CertRecord{{Serial: "1f", NotBefore: start, NotAfter: start.Add(24 * time.Hour)}}},
		Checks: []users.Check{
			{Permission: users.Permission{Verb: "get", Resource: "pods", Namespace: "dev"}, Want: true, Got: true},
			{Permission: users.Permission{Verb: "get", Resource: "pods", Namespace: "default"}, Want: false, Got: true},
		},
	}
	o.printCreated(res)
	want := `user ana (groups [ops]): certificate serial 1f, valid 2030-01-02T03:04:05Z to 2030-01-03T03:04:05Z (24h0m0s)
kubeconfig: user and context "ana@kbs" in /tmp/config
ACCESS               EXPECTED  ACTUAL
get pods in dev      allowed   allowed
get pods in default  denied    allowed  <- MISMATCH
verified live: signed in as ana, and the API server gave the user the same answers
`
	if out.String() != want || errOut.Len() != 0 {
		t.Errorf("printed\n%s\nwant\n%s(stderr %q)", out, want, errOut)
	}
	out.Reset()
	res.Checks, res.Live = nil, false
	o.printCreated(res)
	if strings.Contains(out.String(), "ACCESS") || !strings.HasPrefix(errOut.String(), "warning: the role grants no concrete permission to verify") {
		t.Errorf("with nothing to check: stdout %q, stderr %q; want a warning instead of a table", out, errOut)
	}
}

// userCluster is a fake cluster with ana in the ledger, her certificate
// valid for a day.
func userCluster(t *testing.T) *fake.Clientset {
	cs := fake.NewClientset()
	rec := &users.Record{User: "ana", Groups: []string{"ops"}, RoleRef: "ClusterRole/view",
		Certificates: []users.CertRecord{{Serial: "1f", NotAfter: time.Now().Add(24 * time.Hour)}},
		Bindings:     []users.ObjectRef{{Kind: "RoleBinding", Namespace: "dev", Name: "kbs-user-ana"}},
		Kubeconfig:   users.KubeconfigRef{File: filepath.Join(t.TempDir(), "gone"), Entry: "ana@kbs"}}
	if err := users.SaveRecord(context.Background(), cs, rec); err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestUserListPrints(t *testing.T) {
	cs := userCluster(t)
	for _, output := range []string{"", "json"} {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		o := &UserListOptions{out: newOutputFlags(), userBase: userBase{client: cs, IOStreams: streams}}
		*o.out.flags.OutputFormat = output
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if output == "json" {
			var got struct{ Users []users.Record }
			if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.Users) != 1 || got.Users[0].User != "ana" {
				t.Errorf("-o json: %v, %s", err, out)
			}
			continue
		}
		lines := strings.Split(out.String(), "\n")
		if !strings.HasPrefix(lines[0], "USER  GROUPS  EXPIRES") || !strings.HasPrefix(lines[1], "ana   ops     ") ||
			!strings.Contains(lines[1], "ClusterRole/view  dev/kbs-user-ana") {
			t.Errorf("table:\n%s", out)
		}
	}
}

func TestUserDeletePrints(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "config"))
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &UserDeleteOptions{Name: "ana", userBase: userBase{client: userCluster(t), IOStreams: streams, flags: genericclioptions.NewConfigFlags(false)}}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Nothing labelled as ana's was in the cluster, and the kubeconfig is not here: only the note.
	if got := out.String(); !strings.HasPrefix(got, "note: certificate 1f stays valid until ") ||
		!strings.Contains(got, `only what other bindings grant user "ana" and groups [ops]`) || strings.Count(got, "\n") != 1 {
		t.Errorf("printed %q", got)
	}
	var none bytes.Buffer
	o.Out = &none
	if err := o.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "not in kbs's ledger") || none.Len() != 0 {
		t.Errorf("deleting again: %v, printed %q", err, none.String())
	}
}
