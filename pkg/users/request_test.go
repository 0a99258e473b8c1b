package users

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidateAccepts(t *testing.T) {
	tests := map[string]Request{
		"clusterrole in a namespace": validRequest(),
		"existing role":              validRequest(func(r *Request) { r.ClusterRole, r.Role = "", "reader" }),
		"rules with discovery":       validRequest(func(r *Request) { r.ClusterRole, r.Verbs, r.Resources = "", []string{"get", "list"}, []string{"pods"} }),
		"one api group per resource": validRequest(func(r *Request) {
			r.ClusterRole, r.Verbs, r.Resources, r.APIGroups = "", []string{"*"}, []string{"pods", "deployments"}, []string{"", "apps"}
		}),
		"cluster-wide, no namespace": validRequest(func(r *Request) { r.ClusterWide, r.Namespace = true, "" }),
		"groups":                     validRequest(func(r *Request) { r.Groups = []string{"robotnik.io", "ops"} }),
		"service account":            validRequest(func(r *Request) { r.ServiceAccount = true }),
		"local CA":                   validRequest(func(r *Request) { r.Signer, r.CACert, r.CAKey = SignerCA, "ca.crt", "ca.key" }),
		"default key type":           validRequest(func(r *Request) { r.KeyType = "" }),
		"shortest ttl":               validRequest(func(r *Request) { r.TTL = MinTTL }),
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			if err := r.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Request)
		want string
	}{
		{"name not a DNS subdomain", func(r *Request) { r.Name = "Ana" }, `user name "Ana"`},
		{"empty name", func(r *Request) { r.Name = "" }, `user name ""`},
		{"reserved name", func(r *Request) { r.Name = "system:ana" }, `user name "system:ana"`},
		{"system:masters", func(r *Request) { r.Groups = []string{"ops", "system:masters"} }, "group system:masters is refused"},
		{"empty group", func(r *Request) { r.Groups = []string{""} }, `group "": must be non-empty`},
		{"padded group", func(r *Request) { r.Groups = []string{" ops"} }, `group " ops": must be non-empty without surrounding spaces`},
		{"no role at all", func(r *Request) { r.ClusterRole = "" }, "give exactly one of --role, --clusterrole"},
		{"two roles", func(r *Request) { r.Role = "reader" }, "give exactly one of --role, --clusterrole"},
		{"verb without resource", func(r *Request) { r.ClusterRole, r.Verbs = "", []string{"get"} }, "--verb and --resource go together"},
		{"resource without verb", func(r *Request) { r.ClusterRole, r.Resources = "", []string{"pods"} }, "--verb and --resource go together"},
		{"role cluster-wide", func(r *Request) { r.ClusterRole, r.Role, r.ClusterWide = "", "reader", true }, "cannot be bound cluster-wide"},
		{"no namespace", func(r *Request) { r.Namespace = "" }, "a namespace is required (-n)"},
		{"unknown verb", func(r *Request) { r.ClusterRole, r.Verbs, r.Resources = "", []string{"get", "read"}, []string{"pods"} }, `unknown verb "read"`},
		{"api groups neither one nor one each", func(r *Request) {
			r.ClusterRole, r.Verbs, r.Resources, r.APIGroups = "", []string{"get"}, []string{"pods", "deployments", "jobs"}, []string{"", "apps"}
		}, "--api-group: give one group for all resources, or one per resource"},
		{"service account with groups", func(r *Request) { r.ServiceAccount, r.Groups = true, []string{"ops"} }, "--service-account takes no --group"},
		{"service account with a CA", func(r *Request) {
			r.ServiceAccount, r.Signer, r.CACert, r.CAKey = true, SignerCA, "ca.crt", "ca.key"
		}, "--service-account takes no --group or --signer ca"},
		{"service account without namespace", func(r *Request) { r.ServiceAccount, r.Namespace = true, "" }, "--service-account needs a namespace"},
		{"ttl too short", func(r *Request) { r.TTL = 9 * time.Minute }, "--ttl 9m0s is below the minimum of 10m0s"},
		{"unknown key type", func(r *Request) { r.KeyType = "dsa-1024" }, "--key-type:"},
		{"CA files with the API signer", func(r *Request) { r.CACert = "ca.crt" }, "--ca-cert and --ca-key are for --signer ca"},
		{"CA signer without key", func(r *Request) { r.Signer, r.CACert = SignerCA, "ca.crt" }, "--signer ca needs --ca-cert and --ca-key"},
		{"unknown signer", func(r *Request) { r.Signer = "vault" }, `unknown --signer "vault"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest(tt.mod)
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		name       string
		req        Request
		wantUser   string
		wantGroups []string
	}{
		{"certificate user", validRequest(func(r *Request) { r.Groups = []string{"ops"} }), "ana", []string{"system:authenticated", "ops"}},
		{"certificate user without groups", validRequest(), "ana", []string{"system:authenticated"}},
		{"service account", validRequest(func(r *Request) { r.ServiceAccount = true }), "system:serviceaccount:dev:ana",
			[]string{"system:authenticated", "system:serviceaccounts", "system:serviceaccounts:dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.Username(); got != tt.wantUser {
				t.Errorf("Username() = %q, want %q", got, tt.wantUser)
			}
			if got := tt.req.UserGroups(); !reflect.DeepEqual(got, tt.wantGroups) {
				t.Errorf("UserGroups() = %q, want %q", got, tt.wantGroups)
			}
		})
	}
}

func TestObjectNameAndLabels(t *testing.T) {
	if got := ObjectName("ana"); got != "kbs-user-ana" {
		t.Errorf("ObjectName = %q", got)
	}
	want := map[string]string{"app.kubernetes.io/managed-by": "kbs", "kbs.kubectl-kbs.io/user": "ana"}
	if got := Labels("ana"); !reflect.DeepEqual(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
	// Callers add to the map (the ledger label): each call must be fresh.
	Labels("ana")["extra"] = "x"
	if _, ok := Labels("ana")["extra"]; ok {
		t.Error("Labels returns a shared map")
	}
}
