//go:build integration

package controlplane_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	certv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

type watchEvent = watch.Event

// A kube-apiserver-client CSR, once approved, is issued by the
// controller-manager's signer, and the certificate authenticates.
func TestCSRApprovedIsIssued(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := adminClient(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := certutil.MakeCSR(key, &pkix.Name{CommonName: "mikeadmin", Organization: []string{"robotnik.io"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ttl := 30 * time.Minute
	name, uid, err := csr.RequestCertificate(cs, csrPEM, "", certv1.KubeAPIServerClientSignerName,
		&ttl, []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth}, key)
	if err != nil {
		t.Fatal(err)
	}
	req, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req.Status.Conditions = append(req.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: certv1.CertificateApproved, Status: "True", Reason: "KbsTest", Message: "approved by the harness test",
	})
	if _, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, req, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	certPEM, err := csr.WaitForCertificate(ctx, cs, name, uid)
	if err != nil {
		t.Fatalf("approved CSR never issued: %v", err)
	}
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := pki.ParseCertPEM(cp.PKI.ClusterCA().CertPEM)
	if err := cert.CheckSignatureFrom(caCert); err != nil {
		t.Fatalf("issued certificate not signed by the cluster CA: %v", err)
	}
	if life := cert.NotAfter.Sub(time.Now()); life > ttl || life < ttl-5*time.Minute {
		t.Errorf("issued certificate valid %s more, want about the requested %s", life, ttl)
	}
	keyPEM, _ := keyutil.MarshalPrivateKeyToPEM(key)
	userCfg := rest.AnonymousClientConfig(cp.AdminConfig)
	userCfg.CertData, userCfg.KeyData = certPEM, keyPEM
	review, err := kubernetes.NewForConfigOrDie(userCfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != "mikeadmin" || !contains(u.Groups, "robotnik.io") {
		t.Fatalf("issued cert authenticates as %q %v, want mikeadmin in robotnik.io", u.Username, u.Groups)
	}
}
