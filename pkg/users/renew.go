package users

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// RenewInput is one `user renew`.
type RenewInput struct {
	Client kubernetes.Interface
	User   string
	// TTL is the new certificate's lifetime; Timeout bounds the wait for it.
	TTL     time.Duration
	Timeout time.Duration
	// Cluster is the cluster the kubeconfig entry points at.
	Cluster ClusterInfo
	// Kubeconfigs are the files this kubectl reads (--kubeconfig, or the
	// $KUBECONFIG chain, or ~/.kube/config): the only ones a record may
	// send the new credentials to.
	Kubeconfigs []string
	// KubeconfigOut is a new standalone file for the credentials; when empty
	// the recorded kubeconfig entry is updated.
	KubeconfigOut string
	// Log reports progress (waiting for an approver); nil is silent.
	Log func(format string, args ...any)
}

// RenewResult is the renewed user.
type RenewResult struct {
	Record *Record // as saved, the new certificate last
	// Previous stays valid until it expires: Kubernetes cannot revoke it.
	Previous CertRecord
	Issued   CertRecord
	// Kubeconfig is the file that now holds the credentials.
	Kubeconfig string
}

// Renew issues a new key and certificate through the CSR API for a user in
// the ledger, with the same groups and key type, writes them to its
// kubeconfig entry and appends them to its record. Bindings are untouched:
// they name the user, not the certificate.
func Renew(ctx context.Context, in RenewInput) (*RenewResult, error) {
	rec, err := GetRecord(ctx, in.Client, in.User)
	if err != nil {
		return nil, err
	}
	prev := rec.Current()
	if rec.ServiceAccount {
		return nil, fmt.Errorf("%s is a service account: create a new token with kubectl kbs user create %s --service-account -n %s (same role flags)", in.User, in.User, rec.Namespace)
	}
	// The record is a ConfigMap anyone with write access to kube-system can
	// edit: what it says is checked as user create checks flags, before
	// anything is signed with it.
	if err := trustRecord(rec); err != nil {
		return nil, err
	}
	if in.KubeconfigOut == "" && !isOneOf(rec.Kubeconfig.File, in.Kubeconfigs) {
		return nil, fmt.Errorf("the record names kubeconfig %s, which is not one this kubectl reads (%s): pass --kubeconfig-out FILE, or --kubeconfig %s if it is yours", rec.Kubeconfig.File, strings.Join(in.Kubeconfigs, ", "), rec.Kubeconfig.File)
	}
	creds, err := in.sign(ctx, rec, prev)
	if err != nil {
		return nil, err
	}
	where, err := in.writeKubeconfig(rec, creds)
	if err != nil {
		return nil, err
	}
	cr, err := NewCertRecord(creds.CertPEM, SignerAPI, prev.KeyType, Requester(ctx, in.Client), creds.CSRName)
	if err != nil {
		return nil, err
	}
	rec.Certificates = append(rec.Certificates, cr)
	rec.Kubeconfig.File = where
	if err := SaveRecord(ctx, in.Client, rec); err != nil {
		return nil, err
	}
	return &RenewResult{Record: rec, Previous: prev, Issued: cr, Kubeconfig: where}, nil
}

func (in *RenewInput) sign(ctx context.Context, rec *Record, prev CertRecord) (*Credentials, error) {
	req := &Request{Name: rec.User, Groups: rec.Groups, TTL: in.TTL, KeyType: pki.KeyType(prev.KeyType), Signer: SignerAPI}
	cannot, err := Missing(ctx, in.Client, ApprovalNeeds())
	if err != nil {
		return nil, err
	}
	return SignWithAPI(ctx, in.Client, req, in.Timeout, len(cannot) == 0, func(csr string) {
		logf(in.Log, "waiting up to %s for an approver (kubectl certificate approve %s)", in.Timeout, csr)
	})
}

// writeKubeconfig updates the recorded entry, or writes --kubeconfig-out,
// and returns the file it wrote.
func (in *RenewInput) writeKubeconfig(rec *Record, creds *Credentials) (string, error) {
	k := rec.Kubeconfig
	if in.KubeconfigOut != "" {
		return in.KubeconfigOut, Standalone(in.KubeconfigOut, in.Cluster, k.Entry, rec.Namespace, creds)
	}
	// The record may come from another admin's machine.
	if _, err := os.Stat(k.File); err != nil {
		return "", fmt.Errorf("the recorded kubeconfig %s is not on this machine: pass --kubeconfig-out FILE", k.File)
	}
	return k.File, Merge(k.File, in.Cluster, k.Entry, rec.Namespace, creds)
}

// trustRecord checks a ledger record's identity the way user create checks
// its flags: renew signs a certificate with these groups.
func trustRecord(rec *Record) error {
	if err := ValidateGroups(rec.Groups); err != nil {
		return fmt.Errorf("the ledger record kube-system/%s: %w (someone changed it since kbs wrote it: check who can write ConfigMaps in kube-system)", ObjectName(rec.User), err)
	}
	if strings.HasPrefix(rec.User, "system:") {
		return fmt.Errorf("the ledger record kube-system/%s names user %s: names starting with system: are refused", ObjectName(rec.User), rec.User)
	}
	return nil
}
