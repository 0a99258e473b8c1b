package users

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// fakeClientset is client-go's fake, with server-side apply.
type fakeClientset = fake.Clientset

// policy answers access reviews: who is "" for the caller
// (SelfSubjectAccessReview), else the user under review.
type policy func(who string, a authzv1.ResourceAttributes) bool

func allowAll(string, authzv1.ResourceAttributes) bool { return true }

// callerOnly lets the caller do anything and grants reviewed users nothing.
func callerOnly(who string, _ authzv1.ResourceAttributes) bool { return who == "" }

// newFake is a clientset with server-side apply, whose access reviews answer
// from allow and whose caller is "admin".
func newFake(allow policy, objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		rev := a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview)
		rev.Status.Allowed = allow("", *rev.Spec.ResourceAttributes)
		return true, rev, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		rev := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		rev.Status.Allowed = allow(rev.Spec.User, *rev.Spec.ResourceAttributes)
		return true, rev, nil
	})
	cs.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authnv1.SelfSubjectReview{Status: authnv1.SelfSubjectReviewStatus{UserInfo: authnv1.UserInfo{Username: "admin"}}}, nil
	})
	cs.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenRequest).DeepCopy()
		exp := time.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second)
		tr.Status = authnv1.TokenRequestStatus{Token: "token-of-" + a.GetNamespace(), ExpirationTimestamp: metav1.NewTime(exp)}
		return true, tr, nil
	})
	return cs
}

// errorOn makes every verb on resource fail.
func errorOn(cs *fake.Clientset, verb, resource string) {
	cs.PrependReactor(verb, resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("boom")
	})
}

// testCA is a CA written to files, as --ca-cert and --ca-key name them.
type testCA struct {
	*pki.CA
	certFile, keyFile string
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "test-ca"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ca.Write(dir, "ca"); err != nil {
		t.Fatal(err)
	}
	return testCA{ca, filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")}
}

// clientCAs is the ConfigMap where the API server publishes the CAs it
// accepts client certificates from.
func clientCAs(cas ...testCA) *corev1.ConfigMap {
	var bundle []byte
	for _, ca := range cas {
		bundle = append(bundle, ca.CertPEM...)
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "extension-apiserver-authentication", Namespace: "kube-system"},
		Data:       map[string]string{"client-ca-file": string(bundle)},
	}
}

// signOnApproval plays kube-controller-manager's signer: an approved CSR
// gets a certificate from ca.
func signOnApproval(cs *fake.Clientset, ca testCA) {
	cs.PrependReactor("update", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "approval" {
			return false, nil, nil
		}
		req := a.(k8stesting.UpdateAction).GetObject().(*certv1.CertificateSigningRequest)
		cert, err := ca.sign(req.Spec.Request, time.Duration(*req.Spec.ExpirationSeconds)*time.Second)
		if err != nil {
			return true, nil, err
		}
		req.Status.Certificate = cert
		return false, nil, nil // the tracker stores it, signed
	})
}

// denyOnCreate plays an admin who denies every CSR at once.
func denyOnCreate(cs *fake.Clientset) {
	cs.PrependReactor("create", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		req := a.(k8stesting.CreateAction).GetObject().(*certv1.CertificateSigningRequest)
		req.Status.Conditions = append(req.Status.Conditions, certv1.CertificateSigningRequestCondition{
			Type: certv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "NotOnMyWatch", Message: "denied by the test"})
		return false, nil, nil
	})
}

func (ca testCA) sign(csrPEM []byte, ttl time.Duration) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return nil, fmt.Errorf("no PEM in the CSR")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParsePrivateKeyPEM(ca.KeyPEM)
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: req.Subject, NotBefore: now, NotAfter: now.Add(ttl),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, req.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// validRequest is a request Validate accepts; mod changes it for a case.
func validRequest(mod ...func(*Request)) Request {
	r := Request{Name: "ana", Namespace: "dev", ClusterRole: "view", TTL: time.Hour, KeyType: pki.ECDSAP256, Signer: SignerAPI}
	for _, m := range mod {
		m(&r)
	}
	return r
}

// actions lists the verb and resource of every request cs received, e.g.
// "patch rolebindings".
func actions(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if sub := a.GetSubresource(); sub != "" {
			s += "/" + sub
		}
		out = append(out, s)
	}
	return out
}
