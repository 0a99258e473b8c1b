package users

import (
	"context"
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// CreateInput is one `user create`: the request, the cluster it is made in,
// and where the credentials go.
type CreateInput struct {
	Request Request
	Client  kubernetes.Interface
	// Cluster is the cluster of the caller's context; the user's kubeconfig
	// entry points at it.
	Cluster ClusterInfo
	// ContextName names the kubeconfig user and context (default NAME@CLUSTER).
	ContextName string
	// Mapper resolves --resource to API groups; needed only when
	// Request.NeedsDiscovery.
	Mapper meta.RESTMapper
	// KubeconfigOut is a new standalone file to write; when empty the user is
	// merged into the file of Access that KubeconfigFile picks.
	KubeconfigOut string
	Access        clientcmd.ConfigAccess
	// DryRun builds and checks everything, and creates nothing.
	DryRun bool
	// Timeout bounds the wait for the CSR API to issue the certificate.
	Timeout time.Duration
	// LiveConfig, when set, is the connection (server, CA) to sign in with the
	// new credentials, so the API server answers the checks as the user.
	LiveConfig *rest.Config
	// Log reports progress (waiting for an approver); nil is silent.
	Log func(format string, args ...any)
}

// CreateResult is what Create made, as far as it got.
type CreateResult struct {
	Objects Objects
	// Entry is the kubeconfig user and context; Kubeconfig the file that holds
	// it (or would, on a dry run).
	Entry      string
	Kubeconfig string
	DryRun     bool

	Credentials *Credentials
	Record      *Record // as saved in the ledger
	// Verified: the access reviews ran, and Checks is their whole table
	// (empty when the role grants nothing concrete to check).
	Verified bool
	Checks   []Check
	// Live: signing in as the user gave the same answers.
	Live bool
}

// Create makes a user: it refuses before anything is created when the role
// is missing or the caller lacks a permission, then issues the credentials,
// applies the RBAC, writes the kubeconfig and the ledger record, and verifies
// the user's access.
//
// A non-nil result with an error means the user exists but its verification
// failed: the result says what was made and what the checks found.
func Create(ctx context.Context, in CreateInput) (*CreateResult, error) {
	r := &in.Request
	rules, err := r.ownRules(in.Mapper)
	if err != nil {
		return nil, err
	}
	res := &CreateResult{Objects: r.Build(rules), Entry: in.entry(), DryRun: in.DryRun}
	// The role to bind must exist before anything is created.
	granted, err := RulesOf(ctx, in.Client, r, rules)
	if err != nil {
		return nil, err
	}
	selfApprove, err := preflight(ctx, in.Client, r)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		res.Kubeconfig = in.kubeconfigTarget(res.Entry)
		return res, nil
	}
	if err := in.issue(ctx, res, selfApprove); err != nil {
		return nil, err
	}
	return res, in.verify(ctx, res, granted)
}

func (in *CreateInput) entry() string {
	if in.ContextName != "" {
		return in.ContextName
	}
	return in.Request.Name + "@" + in.Cluster.Name
}

// preflight refuses a request the caller may not carry out, and says whether
// kbs may approve its own CSR (else it waits for an approver).
func preflight(ctx context.Context, cs kubernetes.Interface, r *Request) (selfApprove bool, err error) {
	missing, err := Missing(ctx, cs, r.CallerNeeds())
	if err != nil {
		return false, err
	}
	if len(missing) > 0 {
		var names []string
		for _, p := range missing {
			names = append(names, p.String())
		}
		return false, fmt.Errorf("you may not: %s; nothing was created (ask a cluster admin, or use --signer ca for the certificate part)", strings.Join(names, "; "))
	}
	if r.Signer != SignerAPI || r.ServiceAccount {
		return false, nil
	}
	cannot, err := Missing(ctx, cs, ApprovalNeeds())
	if err != nil {
		return false, err
	}
	return len(cannot) == 0, nil
}

// issue makes the user: credentials first, so a refused certificate leaves
// no RBAC behind.
func (in *CreateInput) issue(ctx context.Context, res *CreateResult, selfApprove bool) error {
	r := &in.Request
	if r.CreateNamespace {
		if err := EnsureNamespace(ctx, in.Client, r.Namespace); err != nil {
			return err
		}
	}
	creds, err := in.credentials(ctx, selfApprove)
	if err != nil {
		return err
	}
	if err := res.Objects.Apply(ctx, in.Client); err != nil {
		return err
	}
	if res.Kubeconfig, err = in.writeKubeconfig(res.Entry, creds); err != nil {
		return err
	}
	rec, err := in.record(ctx, creds, res)
	if err != nil {
		return err
	}
	if err := SaveRecord(ctx, in.Client, rec); err != nil {
		return err
	}
	res.Credentials, res.Record = creds, rec
	return nil
}

func (in *CreateInput) credentials(ctx context.Context, selfApprove bool) (*Credentials, error) {
	r := &in.Request
	switch {
	case r.ServiceAccount:
		return ServiceAccountToken(ctx, in.Client, r)
	case r.Signer == SignerCA:
		return SignWithCA(ctx, in.Client, r)
	}
	return SignWithAPI(ctx, in.Client, r, in.Timeout, selfApprove, func(csr string) {
		logf(in.Log, "you may not approve certificate requests: waiting up to %s for an approver (kubectl certificate approve %s)", in.Timeout, csr)
	})
}

// verify fills the access table; live sign-in runs only when the reviews
// already agree, as a mismatch is the finding to act on.
func (in *CreateInput) verify(ctx context.Context, res *CreateResult, granted []rbacv1.PolicyRule) error {
	checks, err := Verify(ctx, in.Client, &in.Request, granted)
	if err != nil {
		return err
	}
	res.Checks, res.Verified = checks, true
	if bad := mismatches(checks); bad > 0 {
		return fmt.Errorf("%d access checks differ from what was asked: review the bindings above (another binding may grant more)", bad)
	}
	if in.LiveConfig == nil {
		return nil
	}
	if err := VerifyLive(ctx, in.LiveConfig, &in.Request, res.Credentials, checks); err != nil {
		return err
	}
	res.Live = true
	return nil
}

// logf reports progress through log, which may be nil.
func logf(log func(format string, args ...any), format string, args ...any) {
	if log != nil {
		log(format, args...)
	}
}
