package users

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// mayNotApprove lets the caller do anything but approve CSRs.
func mayNotApprove(who string, a authzv1.ResourceAttributes) bool {
	return who == "" && a.Subresource != "approval" && a.Verb != "approve"
}

func TestSignWithCA(t *testing.T) {
	ctx := context.Background()
	trusted, other := newTestCA(t), newTestCA(t)
	r := validRequest(func(r *Request) {
		r.Groups, r.Signer, r.CACert, r.CAKey = []string{"ops"}, SignerCA, trusted.certFile, trusted.keyFile
	})
	creds, err := SignWithCA(ctx, newFake(allowAll, clientCAs(other, trusted)), &r)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertPEM(creds.CertPEM)
	if err != nil || cert.Subject.CommonName != "ana" || !reflect.DeepEqual(cert.Subject.Organization, []string{"ops"}) || cert.CheckSignatureFrom(trusted.Cert) != nil {
		t.Errorf("certificate %+v (%v): want CN ana, O ops, signed by the CA", cert.Subject, err)
	}
	if ok, err := pki.KeyMatchesCert(creds.KeyPEM, cert); !ok || err != nil {
		t.Errorf("key does not match the certificate: %v", err)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d > time.Hour+time.Minute {
		t.Errorf("certificate lives %s, want the request's hour", d)
	}
}

func TestSignWithCARefuses(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	tests := []struct {
		name    string
		cs      *fakeClientset
		caCert  string
		wantErr string
	}{
		{"CA the API server does not trust", newFake(allowAll, clientCAs(other)), ca.certFile, `CA "test-ca" is not among the API server's client CAs (test-ca)`},
		{"no published client CAs", newFake(allowAll), ca.certFile, "reading the API server's client CAs (kube-system/extension-apiserver-authentication)"},
		{"unreadable CA", newFake(allowAll, clientCAs(ca)), ca.certFile + ".missing", "reading CA certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest(func(r *Request) { r.Signer, r.CACert, r.CAKey = SignerCA, tt.caCert, ca.keyFile })
			creds, err := SignWithCA(context.Background(), tt.cs, &r)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SignWithCA() = %v, %v; want %q", creds, err, tt.wantErr)
			}
		})
	}
}

func TestSignWithAPI(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		name        string
		setup       func(*fakeClientset)
		selfApprove bool
		wantWaiting bool
		wantErr     string
	}{
		{"approved by kbs and signed", func(cs *fakeClientset) { signOnApproval(cs, ca) }, true, false, ""},
		{"denied by an admin", denyOnCreate, false, true, "was denied (NotOnMyWatch: denied by the test): nothing was created"},
		{"nobody approves", func(*fakeClientset) {}, false, true, "was neither approved nor denied within 300ms"},
		{"approved, no signer", func(*fakeClientset) {}, true, false, "was approved but no certificate was issued within 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newFake(allowAll)
			tt.setup(cs)
			r := validRequest(func(r *Request) { r.Groups = []string{"ops"} })
			var waitedFor string
			creds, err := SignWithAPI(context.Background(), cs, &r, 300*time.Millisecond, tt.selfApprove, func(csr string) { waitedFor = csr })
			if (waitedFor != "") != tt.wantWaiting || (waitedFor != "" && !strings.HasPrefix(waitedFor, "kbs-ana-")) {
				t.Errorf("waiting reported %q, want a report: %v", waitedFor, tt.wantWaiting)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("SignWithAPI() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cert, err := pki.ParseCertPEM(creds.CertPEM)
			if err != nil || cert.Subject.CommonName != "ana" || !strings.HasPrefix(creds.CSRName, "kbs-ana-") {
				t.Errorf("credentials %+v (%v): want ana's certificate and the CSR's name", creds, err)
			}
			if ok, _ := pki.KeyMatchesCert(creds.KeyPEM, cert); !ok {
				t.Error("key does not match the certificate")
			}
		})
	}
}

func TestServiceAccountToken(t *testing.T) {
	ctx := context.Background()
	cs := newFake(allowAll)
	r := validRequest(func(r *Request) { r.ServiceAccount = true })
	creds, err := ServiceAccountToken(ctx, cs, &r)
	if err != nil || creds.Token != "token-of-dev" || time.Until(creds.TokenExpires).Round(time.Minute) != time.Hour {
		t.Fatalf("ServiceAccountToken() = %+v, %v; want a token of an hour", creds, err)
	}
	sa, err := cs.CoreV1().ServiceAccounts("dev").Get(ctx, "ana", metav1.GetOptions{})
	if err != nil || sa.Labels["kbs.kubectl-kbs.io/user"] != "ana" {
		t.Errorf("service account: %+v, %v; want it labelled as ana's", sa, err)
	}
}
