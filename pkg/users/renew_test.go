package users

import (
	"context"
	"crypto/rsa"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// renewable is a cluster that signs CSRs, with ana in the ledger and in the
// kubeconfig it returns.
func renewable(t *testing.T, allow policy) (*fakeClientset, *Record, string) {
	t.Helper()
	kc := adminKubeconfig(t)
	if err := Merge(kc, testCluster, "ana@kbs", "dev", &Credentials{CertPEM: []byte("old"), KeyPEM: []byte("old")}); err != nil {
		t.Fatal(err)
	}
	rec := record("ana", time.Now().Add(time.Hour))
	rec.Certificates[0].KeyType = string(pki.RSA2048)
	rec.Kubeconfig = KubeconfigRef{File: kc, Entry: "ana@kbs"}
	cs := newFake(allow)
	signOnApproval(cs, newTestCA(t))
	if err := SaveRecord(context.Background(), cs, rec); err != nil {
		t.Fatal(err)
	}
	return cs, rec, kc
}

func renewInput(cs *fakeClientset, kubeconfigs ...string) RenewInput {
	return RenewInput{Client: cs, User: "ana", TTL: 2 * time.Hour, Timeout: 300 * time.Millisecond, Cluster: testCluster, Kubeconfigs: kubeconfigs}
}

func TestRenew(t *testing.T) {
	ctx := context.Background()
	cs, before, kc := renewable(t, allowAll)
	res, err := Renew(ctx, renewInput(cs, kc))
	if err != nil {
		t.Fatal(err)
	}
	if res.Kubeconfig != kc || res.Previous != before.Certificates[0] || res.Issued.Signer != SignerAPI || res.Issued.KeyType != "rsa-2048" {
		t.Errorf("result: %+v", res)
	}
	if d := res.Issued.NotAfter.Sub(res.Issued.NotBefore); d != 2*time.Hour {
		t.Errorf("new certificate lives %s, want the --ttl of 2h", d)
	}
	saved, err := GetRecord(ctx, cs, "ana")
	if err != nil || len(saved.Certificates) != 2 || saved.Current() != res.Issued || !reflect.DeepEqual(saved.Bindings, before.Bindings) {
		t.Errorf("ledger: %+v, %v; want the new certificate appended, bindings kept", saved, err)
	}
	u := load(t, kc).AuthInfos["ana@kbs"]
	cert, err := pki.ParseCertPEM(u.ClientCertificateData)
	if err != nil || cert.SerialNumber.Text(16) != res.Issued.Serial {
		t.Fatalf("kubeconfig holds %v (%v), want the new certificate", cert, err)
	}
	if _, rsaKey := cert.PublicKey.(*rsa.PublicKey); !rsaKey || cert.Subject.CommonName != "ana" || !reflect.DeepEqual(cert.Subject.Organization, before.Groups) {
		t.Errorf("new certificate %+v: want ana's groups and the previous key type", cert.Subject)
	}
}

func TestRenewToAHandout(t *testing.T) {
	ctx := context.Background()
	cs, _, _ := renewable(t, allowAll)
	in := renewInput(cs)
	in.KubeconfigOut = filepath.Join(t.TempDir(), "ana.kubeconfig")
	res, err := Renew(ctx, in)
	if err != nil || res.Kubeconfig != in.KubeconfigOut || load(t, in.KubeconfigOut).CurrentContext != "ana@kbs" {
		t.Fatalf("Renew() = %+v, %v; want the credentials in %s", res, err, in.KubeconfigOut)
	}
	if saved, _ := GetRecord(ctx, cs, "ana"); saved.Kubeconfig.File != in.KubeconfigOut {
		t.Errorf("ledger names %s, want the new file", saved.Kubeconfig.File)
	}
}

func TestRenewWaitsForAnApprover(t *testing.T) {
	cs, _, kc := renewable(t, mayNotApprove)
	in := renewInput(cs, kc)
	var logged []string
	in.Log = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	if _, err := Renew(context.Background(), in); err == nil || !strings.Contains(err.Error(), "neither approved nor denied") {
		t.Errorf("Renew() = %v, want no approval", err)
	}
	if want := "waiting up to 300ms for an approver (kubectl certificate approve kbs-ana-"; len(logged) != 1 || !strings.HasPrefix(logged[0], want) {
		t.Errorf("logged %q, want %q", logged, want)
	}
}

func TestRenewRefuses(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Record) *Record
		user    string
		wantErr string
	}{
		{"user not in the ledger", func(r *Record) *Record { return r }, "bob", `user "bob" is not in kbs's ledger`},
		{"service account", func(r *Record) *Record { r.ServiceAccount = true; return r }, "ana",
			"ana is a service account: create a new token with kubectl kbs user create ana --service-account -n dev"},
		{"kubeconfig this kubectl does not read", func(r *Record) *Record { r.Kubeconfig.File = "/elsewhere/config"; return r }, "ana",
			"the record names kubeconfig /elsewhere/config, which is not one this kubectl reads"},
		{"a system: group planted in the record", func(r *Record) *Record { r.Groups = append(r.Groups, "system:nodes"); return r }, "ana",
			"the ledger record kube-system/kbs-user-ana: group system:nodes is refused"},
		{"kubeadm's admin group planted in the record", func(r *Record) *Record { r.Groups = []string{"kubeadm:cluster-admins"}; return r }, "ana",
			"group kubeadm:cluster-admins is refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cs, rec, kc := renewable(t, allowAll)
			if err := SaveRecord(ctx, cs, tt.mod(rec)); err != nil {
				t.Fatal(err)
			}
			in := renewInput(cs, kc)
			in.User = tt.user
			res, err := Renew(ctx, in)
			if res != nil || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Renew() = %+v, %v; want %q", res, err, tt.wantErr)
			}
			if saved, _ := GetRecord(ctx, cs, "ana"); len(saved.Certificates) != 1 {
				t.Errorf("a refused renewal recorded a certificate: %+v", saved.Certificates)
			}
		})
	}
}
