package users

import (
	"context"
	"fmt"
	"strings"

	authzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Permission is one (verb, group, resource) in a namespace ("" = cluster).
type Permission struct {
	Verb, Group, Resource, Subresource, Name, Namespace string
}

func (p Permission) String() string {
	res := p.Resource
	if p.Group != "" {
		res += "." + p.Group
	}
	if p.Subresource != "" {
		res += "/" + p.Subresource
	}
	ns := p.Namespace
	if ns == "" {
		ns = "(cluster)"
	}
	return fmt.Sprintf("%s %s in %s", p.Verb, res, ns)
}

func (p Permission) attrs() *authzv1.ResourceAttributes {
	return &authzv1.ResourceAttributes{Verb: p.Verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource, Name: p.Name, Namespace: p.Namespace}
}

// Missing returns the caller's permissions among perms it lacks, asked with
// SelfSubjectAccessReviews before anything is created.
func Missing(ctx context.Context, cs kubernetes.Interface, perms []Permission) ([]Permission, error) {
	var missing []Permission
	for _, p := range perms {
		rev, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
			Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: p.attrs()},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("checking your access (%s): %w", p, err)
		}
		if !rev.Status.Allowed {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// CallerNeeds lists what the caller must be allowed to do for r.
func (r *Request) CallerNeeds() []Permission {
	const certs = "certificates.k8s.io"
	var need []Permission
	if r.ServiceAccount {
		need = append(need,
			Permission{Verb: "patch", Resource: "serviceaccounts", Namespace: r.Namespace},
			Permission{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: r.Namespace})
	} else if r.Signer == SignerAPI {
		need = append(need, Permission{Verb: "create", Group: certs, Resource: "certificatesigningrequests"})
	}
	ns := r.Namespace
	binding, role := "rolebindings", "roles"
	if r.ClusterWide {
		ns, binding, role = "", "clusterrolebindings", "clusterroles"
	}
	need = append(need, Permission{Verb: "patch", Group: rbacv1.GroupName, Resource: binding, Namespace: ns})
	if len(r.Verbs) > 0 {
		need = append(need, Permission{Verb: "patch", Group: rbacv1.GroupName, Resource: role, Namespace: ns})
	}
	// The ledger record.
	need = append(need, Permission{Verb: "patch", Resource: "configmaps", Namespace: LedgerNamespace})
	if r.CreateNamespace {
		need = append(need, Permission{Verb: "patch", Resource: "namespaces", Name: r.Namespace})
	}
	return need
}

// ApprovalNeeds is what approving one's own CSR takes. Without it kbs
// still works: it waits for someone who may approve.
func ApprovalNeeds() []Permission {
	const certs = "certificates.k8s.io"
	return []Permission{
		{Verb: "update", Group: certs, Resource: "certificatesigningrequests", Subresource: "approval"},
		{Verb: "approve", Group: certs, Resource: "signers", Name: "kubernetes.io/kube-apiserver-client"},
	}
}

// Check is one expected answer of the access table.
type Check struct {
	Permission
	Want, Got bool
}

// Matches says whether the API server answered as the request expects.
func (c Check) Matches() bool { return c.Want == c.Got }

// mismatches counts the checks the API server answered otherwise.
func mismatches(checks []Check) int {
	n := 0
	for _, c := range checks {
		if !c.Matches() {
			n++
		}
	}
	return n
}

// Verify asks the API server, with SubjectAccessReviews for the new user and
// its groups, whether each permission is granted where it should be and
// refused where it should not.
func Verify(ctx context.Context, cs kubernetes.Interface, r *Request, rules []rbacv1.PolicyRule) ([]Check, error) {
	var checks []Check
	for _, p := range samplePermissions(rules) {
		if r.ClusterWide {
			checks = append(checks, Check{Permission: with(p, ""), Want: true})
			continue
		}
		checks = append(checks, Check{Permission: with(p, r.Namespace), Want: true})
		if r.Namespace != "default" {
			checks = append(checks, Check{Permission: with(p, "default"), Want: false})
		}
	}
	for i := range checks {
		rev, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
			Spec: authzv1.SubjectAccessReviewSpec{User: r.Username(), Groups: r.UserGroups(), ResourceAttributes: checks[i].attrs()},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("verifying access: %w", err)
		}
		checks[i].Got = rev.Status.Allowed
	}
	return checks, nil
}

func with(p Permission, ns string) Permission { p.Namespace = ns; return p }

// samplePermissions turns rules into concrete permissions to check (at most
// a dozen; wildcards and named resources are skipped).
func samplePermissions(rules []rbacv1.PolicyRule) []Permission {
	var out []Permission
	for _, rule := range rules {
		if len(rule.ResourceNames) > 0 {
			continue
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					if g == "*" || res == "*" || v == "*" || len(out) >= 12 {
						continue
					}
					r, sub, _ := strings.Cut(res, "/")
					out = append(out, Permission{Verb: v, Group: g, Resource: r, Subresource: sub})
				}
			}
		}
	}
	return out
}

// RulesOf reads the rules the binding will grant, for verification.
func RulesOf(ctx context.Context, cs kubernetes.Interface, r *Request, own []rbacv1.PolicyRule) ([]rbacv1.PolicyRule, error) {
	switch {
	case r.Role != "":
		role, err := cs.RbacV1().Roles(r.Namespace).Get(ctx, r.Role, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("role %s/%s: %w", r.Namespace, r.Role, err)
		}
		return role.Rules, nil
	case r.ClusterRole != "":
		cr, err := cs.RbacV1().ClusterRoles().Get(ctx, r.ClusterRole, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("clusterrole %s: %w (kubectl get clusterroles lists them)", r.ClusterRole, err)
		}
		return cr.Rules, nil
	}
	return own, nil
}
