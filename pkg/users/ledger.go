package users

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// The ledger lives in the cluster — one ConfigMap per user in kube-system,
// labelled as kbs's — so everyone who administers the cluster sees the same
// record, and it survives the laptop that issued the certificate. CSR objects
// are garbage-collected within hours and are no record of issuance. The
// ledger holds no key material.
const (
	LedgerNamespace = "kube-system"
	ledgerLabel     = "kbs.kubectl-kbs.io/ledger"
	ledgerKey       = "record.json"
)

// Record is what kbs knows about one user's certificates. JSON field names
// are stable (`user list -o json`).
type Record struct {
	User         string        `json:"user"`
	Groups       []string      `json:"groups,omitempty"`
	Certificates []CertRecord  `json:"certificates"` // newest last
	Bindings     []ObjectRef   `json:"bindings"`
	Roles        []ObjectRef   `json:"roles,omitempty"` // made by kbs for the user
	Kubeconfig   KubeconfigRef `json:"kubeconfig"`
	Namespace    string        `json:"namespace,omitempty"`
	// ServiceAccount: the credentials are a token of that account.
	ServiceAccount bool   `json:"serviceAccount,omitempty"`
	ClusterWide    bool   `json:"clusterWide,omitempty"`
	RoleRef        string `json:"roleRef"`
}

// CertRecord describes one issued certificate.
type CertRecord struct {
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	Signer    string    `json:"signer"`
	KeyType   string    `json:"keyType"`
	Requester string    `json:"requester"`
	CSR       string    `json:"csr,omitempty"`
}

// ObjectRef names an RBAC object.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// KubeconfigRef is where the credentials went on the requester's machine.
type KubeconfigRef struct {
	File    string `json:"file"`
	Entry   string `json:"entry"`
	Handout bool   `json:"handout,omitempty"` // a standalone --kubeconfig-out file
}

// Current is the newest certificate.
func (r *Record) Current() CertRecord { return r.Certificates[len(r.Certificates)-1] }

// NewCertRecord describes an issued certificate.
func NewCertRecord(certPEM []byte, signer, keyType, requester, csr string) (CertRecord, error) {
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		return CertRecord{}, err
	}
	return CertRecord{Serial: cert.SerialNumber.Text(16), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		Signer: signer, KeyType: keyType, Requester: requester, CSR: csr}, nil
}

// NewTokenRecord describes a service account token (it has no serial).
func NewTokenRecord(c *Credentials, requester string) CertRecord {
	return CertRecord{Serial: "token", NotAfter: c.TokenExpires, NotBefore: time.Now().UTC(), Signer: "TokenRequest", Requester: requester}
}

// Refs lists the RBAC objects of o.
func (o Objects) Refs() (bindings, roles []ObjectRef) {
	if o.Role != nil {
		roles = append(roles, ObjectRef{"Role", o.Role.Namespace, o.Role.Name})
	}
	if o.ClusterRole != nil {
		roles = append(roles, ObjectRef{"ClusterRole", "", o.ClusterRole.Name})
	}
	if o.RoleBinding != nil {
		bindings = append(bindings, ObjectRef{"RoleBinding", o.RoleBinding.Namespace, o.RoleBinding.Name})
	}
	if o.ClusterRoleBinding != nil {
		bindings = append(bindings, ObjectRef{"ClusterRoleBinding", "", o.ClusterRoleBinding.Name})
	}
	return bindings, roles
}

// SaveRecord writes the record (server-side apply).
func SaveRecord(ctx context.Context, cs kubernetes.Interface, rec *Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	labels := Labels(rec.User)
	labels[ledgerLabel] = "user"
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: ObjectName(rec.User), Namespace: LedgerNamespace, Labels: labels},
		Data:       map[string]string{ledgerKey: string(data)},
	}
	b, err := json.Marshal(cm)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().ConfigMaps(LedgerNamespace).Patch(ctx, cm.Name, types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: fieldManager, Force: ptrTrue()})
	if err != nil {
		return fmt.Errorf("recording the user in the ledger (%s/%s): %w", LedgerNamespace, cm.Name, err)
	}
	return nil
}

// GetRecord reads one user's record.
func GetRecord(ctx context.Context, cs kubernetes.Interface, user string) (*Record, error) {
	cm, err := cs.CoreV1().ConfigMaps(LedgerNamespace).Get(ctx, ObjectName(user), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("user %q is not in kbs's ledger (%s/%s): %w", user, LedgerNamespace, ObjectName(user), err)
	}
	return decodeRecord(cm)
}

// ListRecords reads every record.
func ListRecords(ctx context.Context, cs kubernetes.Interface) ([]*Record, error) {
	l, err := cs.CoreV1().ConfigMaps(LedgerNamespace).List(ctx, metav1.ListOptions{LabelSelector: ledgerLabel + "=user"})
	if err != nil {
		return nil, fmt.Errorf("reading kbs's user ledger in %s: %w", LedgerNamespace, err)
	}
	var out []*Record
	for i := range l.Items {
		rec, err := decodeRecord(&l.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func decodeRecord(cm *corev1.ConfigMap) (*Record, error) {
	var rec Record
	if err := json.Unmarshal([]byte(cm.Data[ledgerKey]), &rec); err != nil || len(rec.Certificates) == 0 {
		return nil, fmt.Errorf("ledger entry %s/%s is unreadable (%v): fix or delete it", cm.Namespace, cm.Name, err)
	}
	return &rec, nil
}

// Requester is who the caller authenticates as.
func Requester(ctx context.Context, cs kubernetes.Interface) string {
	rev, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "unknown"
	}
	return rev.Status.UserInfo.Username
}
