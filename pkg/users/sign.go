package users

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/certificate/csr"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// Credentials are an issued client certificate and its key, or a service
// account token.
type Credentials struct {
	CertPEM []byte
	KeyPEM  []byte
	CSRName string // the CSR object, when the API signed

	Token        string
	TokenExpires time.Time
}

// SignWithAPI asks the cluster's kube-apiserver-client signer for a
// certificate: CSR created, approved (kbs approves its own request when the
// caller may), and awaited with a watch until issued, denied, failed, or
// timeout — an approved CSR that nobody signs ends with an explanation.
//
// When the caller may not approve (selfApprove false), the CSR waits for an
// approver; waiting reports its name so one can act on it.
func SignWithAPI(ctx context.Context, cs kubernetes.Interface, r *Request, timeout time.Duration, selfApprove bool, waiting func(csr string)) (*Credentials, error) {
	keyPEM, csrPEM, err := pki.NewKeyAndCSR(r.Name, r.Groups, r.KeyType)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("kbs-%s-%s", r.Name, rand.String(5))
	ttl := r.TTL
	reqName, uid, err := csr.RequestCertificateWithContext(ctx, cs, csrPEM, name, certv1.KubeAPIServerClientSignerName, &ttl,
		[]certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth}, key)
	if err != nil {
		return nil, fmt.Errorf("creating CertificateSigningRequest: %w", err)
	}
	if selfApprove {
		if err := approve(ctx, cs, reqName); err != nil {
			return nil, err
		}
	} else if waiting != nil {
		waiting(reqName)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	certPEM, err := csr.WaitForCertificate(wctx, cs, reqName, uid)
	if err != nil {
		return nil, explainWait(ctx, cs, reqName, timeout, err)
	}
	return &Credentials{CertPEM: certPEM, KeyPEM: keyPEM, CSRName: reqName}, nil
}

func approve(ctx context.Context, cs kubernetes.Interface, name string) error {
	req, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	req.Status.Conditions = append(req.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: certv1.CertificateApproved, Status: "True", Reason: "KbsUserCreate", Message: "approved by kubectl kbs user create",
	})
	if _, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, req, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("approving CertificateSigningRequest %s: %w", name, err)
	}
	return nil
}

// explainWait turns a failed wait into what happened and what to do.
func explainWait(ctx context.Context, cs kubernetes.Interface, name string, timeout time.Duration, waitErr error) error {
	req, err := cs.CertificatesV1().CertificateSigningRequests().Get(context.WithoutCancel(ctx), name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("waiting for CertificateSigningRequest %s: %w", name, waitErr)
	}
	for _, c := range req.Status.Conditions {
		switch c.Type {
		case certv1.CertificateDenied:
			return fmt.Errorf("CertificateSigningRequest %s was denied (%s: %s): nothing was created", name, c.Reason, c.Message)
		case certv1.CertificateFailed:
			return fmt.Errorf("the signer failed CertificateSigningRequest %s (%s: %s)", name, c.Reason, c.Message)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	approved := false
	for _, c := range req.Status.Conditions {
		approved = approved || c.Type == certv1.CertificateApproved
	}
	if !approved {
		return fmt.Errorf("CertificateSigningRequest %s was neither approved nor denied within %s; nothing was created: run again with a longer --timeout while an admin runs kubectl certificate approve, or ask an admin to create the user", name, timeout)
	}
	return fmt.Errorf("CertificateSigningRequest %s was approved but no certificate was issued within %s: this cluster seems to have no signer for %s (kube-controller-manager without --cluster-signing-cert-file, an external CA, or a managed control plane); sign with a CA the API server trusts instead: --signer ca --ca-cert F --ca-key F",
		name, timeout, certv1.KubeAPIServerClientSignerName)
}

// SignWithCA issues the certificate locally, after checking that the CA is
// one the API server accepts client certificates from.
func SignWithCA(ctx context.Context, cs kubernetes.Interface, r *Request) (*Credentials, error) {
	ca, err := pki.LoadCAFiles(r.CACert, r.CAKey)
	if err != nil {
		return nil, err
	}
	if err := trustedForClients(ctx, cs, ca); err != nil {
		return nil, err
	}
	kp, err := ca.Issue(pki.CertRequest{CommonName: r.Name, Organizations: r.Groups, Profile: pki.ProfileClient, KeyType: r.KeyType, Expiry: r.TTL})
	if err != nil {
		return nil, err
	}
	return &Credentials{CertPEM: kp.CertPEM, KeyPEM: kp.KeyPEM}, nil
}

func trustedForClients(ctx context.Context, cs kubernetes.Interface, ca *pki.CA) error {
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the API server's client CAs (kube-system/extension-apiserver-authentication): %w", err)
	}
	bundle, err := pki.ParseCertsPEM([]byte(cm.Data["client-ca-file"]))
	if err != nil {
		return fmt.Errorf("the API server publishes no client CA: %w", err)
	}
	for _, c := range bundle {
		if c.Equal(ca.Cert) {
			return nil
		}
	}
	return fmt.Errorf("CA %q is not among the API server's client CAs (%s): certificates it signs would be rejected; use the cluster CA (/etc/kubernetes/pki/ca.crt) or --signer api",
		ca.Cert.Subject.CommonName, subjects(bundle))
}

func subjects(certs []*x509.Certificate) string {
	var s []string
	for _, c := range certs {
		s = append(s, c.Subject.CommonName)
	}
	return strings.Join(s, ", ")
}

// ServiceAccountToken creates (or updates) the service account and asks the
// TokenRequest API for a token of the request's TTL. The token is bound to
// the ServiceAccount object: deleting it revokes the token at once.
func ServiceAccountToken(ctx context.Context, cs kubernetes.Interface, r *Request) (*Credentials, error) {
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace, Labels: Labels(r.Name)},
	}
	b, err := json.Marshal(sa)
	if err != nil {
		return nil, err
	}
	if _, err := cs.CoreV1().ServiceAccounts(r.Namespace).Patch(ctx, r.Name, types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: fieldManager, Force: ptrTrue()}); err != nil {
		return nil, fmt.Errorf("creating service account %s/%s: %w", r.Namespace, r.Name, err)
	}
	secs := int64(r.TTL.Seconds())
	tr, err := cs.CoreV1().ServiceAccounts(r.Namespace).CreateToken(ctx, r.Name, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for %s/%s: %w", r.Namespace, r.Name, err)
	}
	return &Credentials{Token: tr.Status.Token, TokenExpires: tr.Status.ExpirationTimestamp.Time}, nil
}
