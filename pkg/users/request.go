// Package users mints users for a cluster: a key made locally, a client
// certificate from the Kubernetes CSR API (or a local CA the API server
// trusts), least-privilege RBAC applied server-side, a kubeconfig context,
// and a check with SubjectAccessReviews that the user can do exactly what
// was asked.
package users

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// Signers.
const (
	SignerAPI = "api"
	SignerCA  = "ca"
)

// MinTTL is the shortest certificate the CSR API issues (expirationSeconds ≥ 600).
const MinTTL = 10 * time.Minute

// Request is one `user create`.
type Request struct {
	Name      string
	Groups    []string
	Namespace string

	// Exactly one of: an existing Role, a ClusterRole, or rules to make a Role.
	Role        string
	ClusterRole string
	Verbs       []string
	Resources   []string
	APIGroups   []string // optional: resolved by discovery when empty
	ClusterWide bool     // ClusterRoleBinding (and a ClusterRole for rules)

	CreateNamespace bool
	// ServiceAccount makes a ServiceAccount and a TokenRequest token instead
	// of a client certificate (the notes' recommended practice for tools).
	ServiceAccount bool
	TTL            time.Duration
	KeyType        pki.KeyType
	Signer         string
	CACert, CAKey  string
}

// Validate checks the request before anything is created or sent.
func (r *Request) Validate() error {
	for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
		return fmt.Errorf("user name %q: %s (it becomes part of RBAC object names)", r.Name, msg)
	}
	if strings.HasPrefix(r.Name, "system:") {
		return fmt.Errorf("user name %q: names starting with system: are reserved for Kubernetes components", r.Name)
	}
	if err := ValidateGroups(r.Groups); err != nil {
		return err
	}
	if err := r.validateAccess(); err != nil {
		return err
	}
	if r.ServiceAccount {
		if len(r.Groups) > 0 || r.Signer == SignerCA {
			return fmt.Errorf("--service-account takes no --group or --signer ca: a service account's groups are system:serviceaccounts and its token comes from the TokenRequest API")
		}
		if r.Namespace == "" {
			return fmt.Errorf("--service-account needs a namespace (-n) to live in")
		}
	}
	if r.TTL < MinTTL {
		return fmt.Errorf("--ttl %s is below the minimum of %s that the certificates API issues", r.TTL, MinTTL)
	}
	if _, err := pki.ParseKeyType(string(r.KeyType)); err != nil {
		return fmt.Errorf("--key-type: %w", err)
	}
	switch r.Signer {
	case SignerAPI:
		if r.CACert != "" || r.CAKey != "" {
			return fmt.Errorf("--ca-cert and --ca-key are for --signer ca")
		}
	case SignerCA:
		if r.CACert == "" || r.CAKey == "" {
			return fmt.Errorf("--signer ca needs --ca-cert and --ca-key")
		}
	default:
		return fmt.Errorf("unknown --signer %q: use api (the cluster's CSR API) or ca (a local CA)", r.Signer)
	}
	return nil
}

func (r *Request) validateAccess() error {
	ways := 0
	for _, set := range []bool{r.Role != "", r.ClusterRole != "", len(r.Verbs)+len(r.Resources) > 0} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return fmt.Errorf("give exactly one of --role, --clusterrole, or --verb with --resource")
	}
	if (len(r.Verbs) == 0) != (len(r.Resources) == 0) {
		return fmt.Errorf("--verb and --resource go together")
	}
	if r.Role != "" && r.ClusterWide {
		return fmt.Errorf("--role names a namespaced Role, which cannot be bound cluster-wide: use --clusterrole")
	}
	if !r.ClusterWide && !r.ServiceAccount && r.Namespace == "" {
		return fmt.Errorf("a namespace is required (-n) unless --cluster-wide")
	}
	for _, v := range r.Verbs {
		if !slices.Contains(knownVerbs, v) {
			return fmt.Errorf("unknown verb %q: want one of %s", v, strings.Join(knownVerbs, ", "))
		}
	}
	if len(r.APIGroups) > 0 && len(r.APIGroups) != 1 && len(r.APIGroups) != len(r.Resources) {
		return fmt.Errorf("--api-group: give one group for all resources, or one per resource")
	}
	return nil
}

var knownVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"}

// Username is how the API server names the user in access reviews.
func (r *Request) Username() string {
	if r.ServiceAccount {
		return "system:serviceaccount:" + r.Namespace + ":" + r.Name
	}
	return r.Name
}

// UserGroups are the groups the API server adds for the user.
func (r *Request) UserGroups() []string {
	if r.ServiceAccount {
		return []string{"system:authenticated", "system:serviceaccounts", "system:serviceaccounts:" + r.Namespace}
	}
	return append([]string{"system:authenticated"}, r.Groups...)
}

// ObjectName is the name of the RBAC objects kbs makes for a user.
func ObjectName(user string) string { return "kbs-user-" + user }

// Labels mark kbs's objects so `user delete` removes exactly them.
func Labels(user string) map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": "kbs", "kbs.kubectl-kbs.io/user": user}
}

// ValidateGroups refuses groups a kbs user must not carry: system:masters
// bypasses RBAC; every other system: group is the API server's to give
// (system:nodes, system:bootstrappers… each grants what its components
// need); kubeadm:cluster-admins is bound to cluster-admin by kubeadm. A
// certificate cannot be revoked, so none of them is ever signed.
func ValidateGroups(groups []string) error {
	for _, g := range groups {
		switch {
		case g == "system:masters":
			return fmt.Errorf("group system:masters is refused: it bypasses RBAC entirely and cannot be revoked short of rotating the cluster CA (the API server's CertificateSubjectRestriction admission also rejects it); bind --clusterrole cluster-admin instead, which can be removed")
		case strings.HasPrefix(g, "system:"):
			return fmt.Errorf("group %s is refused: system: groups are the API server's to give to its own components, and a certificate that carries one cannot be revoked", g)
		case g == "kubeadm:cluster-admins":
			return fmt.Errorf("group kubeadm:cluster-admins is refused: kubeadm binds it to cluster-admin, and a certificate that carries it cannot be revoked; bind --clusterrole cluster-admin instead, which can be removed")
		case g == "" || strings.TrimSpace(g) != g:
			return fmt.Errorf("group %q: must be non-empty without surrounding spaces", g)
		}
	}
	return nil
}
