package users

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// record is a ledger record of user with one certificate expiring at
// notAfter.
func record(user string, notAfter time.Time) *Record {
	return &Record{
		User: user, Groups: []string{"ops"}, Namespace: "dev", RoleRef: "ClusterRole/view",
		Certificates: []CertRecord{{Serial: "1f", NotBefore: notAfter.Add(-time.Hour).UTC(), NotAfter: notAfter.UTC(), Signer: SignerAPI, KeyType: "ecdsa-p256", Requester: "admin"}},
		Bindings:     []ObjectRef{{"RoleBinding", "dev", ObjectName(user)}},
		Kubeconfig:   KubeconfigRef{File: "/home/admin/.kube/config", Entry: user + "@kbs"},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	ctx := context.Background()
	cs := newFake(allowAll)
	ana, bob := record("ana", time.Now().Add(time.Hour).Truncate(time.Second)), record("bob", time.Now().Truncate(time.Second))
	for _, rec := range []*Record{ana, bob, ana} { // saving again replaces
		if err := SaveRecord(ctx, cs, rec); err != nil {
			t.Fatalf("SaveRecord(%s): %v", rec.User, err)
		}
	}
	got, err := GetRecord(ctx, cs, "ana")
	if err != nil || !reflect.DeepEqual(got, ana) {
		t.Errorf("GetRecord() = %+v, %v; want %+v", got, err, ana)
	}
	all, err := ListRecords(ctx, cs)
	if err != nil || len(all) != 2 || all[0].User == all[1].User {
		t.Errorf("ListRecords() = %+v, %v; want ana and bob", all, err)
	}
	cm, err := cs.CoreV1().ConfigMaps(LedgerNamespace).Get(ctx, "kbs-user-ana", metav1.GetOptions{})
	if err != nil || cm.Labels["kbs.kubectl-kbs.io/ledger"] != "user" || cm.Labels["kbs.kubectl-kbs.io/user"] != "ana" {
		t.Errorf("ledger ConfigMap: %+v, %v; want it labelled as the ledger's and the user's", cm, err)
	}
}

func TestListRecordsSkipsOtherConfigMaps(t *testing.T) {
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: LedgerNamespace}}
	recs, err := ListRecords(context.Background(), newFake(allowAll, other))
	if err != nil || len(recs) != 0 {
		t.Errorf("ListRecords() = %+v, %v; want nothing", recs, err)
	}
}

func TestGetRecordErrors(t *testing.T) {
	broken := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kbs-user-bad", Namespace: LedgerNamespace}, Data: map[string]string{"record.json": "{"}}
	empty := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kbs-user-empty", Namespace: LedgerNamespace}, Data: map[string]string{"record.json": `{"user":"empty","certificates":[]}`}}
	cs := newFake(allowAll, broken, empty)
	tests := map[string]string{
		"nobody": `user "nobody" is not in kbs's ledger (kube-system/kbs-user-nobody)`,
		"bad":    "ledger entry kube-system/kbs-user-bad is unreadable",
		"empty":  "ledger entry kube-system/kbs-user-empty is unreadable",
	}
	for user, want := range tests {
		if _, err := GetRecord(context.Background(), cs, user); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("GetRecord(%s) = %v, want %q", user, err, want)
		}
	}
}

func TestSaveRecordSaysWhere(t *testing.T) {
	cs := newFake(allowAll)
	errorOn(cs, "patch", "configmaps")
	err := SaveRecord(context.Background(), cs, record("ana", time.Now()))
	if err == nil || !strings.Contains(err.Error(), "recording the user in the ledger (kube-system/kbs-user-ana)") {
		t.Errorf("SaveRecord() = %v", err)
	}
}

func TestNewCertRecord(t *testing.T) {
	ca := newTestCA(t)
	kp, err := ca.Issue(pki.CertRequest{CommonName: "ana", Profile: pki.ProfileClient, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewCertRecord(kp.CertPEM, SignerCA, "rsa-2048", "admin", "")
	want := CertRecord{Serial: kp.Cert.SerialNumber.Text(16), NotBefore: kp.Cert.NotBefore, NotAfter: kp.Cert.NotAfter, Signer: SignerCA, KeyType: "rsa-2048", Requester: "admin"}
	if err != nil || got != want {
		t.Errorf("NewCertRecord() = %+v, %v; want %+v", got, err, want)
	}
	if _, err := NewCertRecord([]byte("not a certificate"), SignerCA, "", "", ""); err == nil {
		t.Error("NewCertRecord(garbage) = nil error")
	}
}

func TestNewTokenRecord(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	got := NewTokenRecord(&Credentials{Token: "t", TokenExpires: exp}, "admin")
	if got.Serial != "token" || !got.NotAfter.Equal(exp) || got.Signer != "TokenRequest" || got.Requester != "admin" || got.NotBefore.After(time.Now()) {
		t.Errorf("NewTokenRecord() = %+v", got)
	}
}

func TestRequester(t *testing.T) {
	if got := Requester(context.Background(), newFake(allowAll)); got != "admin" {
		t.Errorf("Requester() = %q, want admin", got)
	}
	cs := newFake(allowAll)
	errorOn(cs, "create", "selfsubjectreviews")
	if got := Requester(context.Background(), cs); got != "unknown" {
		t.Errorf("Requester() when the API fails = %q, want unknown", got)
	}
}

func TestCurrent(t *testing.T) {
	rec := record("ana", time.Now())
	rec.Certificates = append(rec.Certificates, CertRecord{Serial: "20"})
	if got := rec.Current().Serial; got != "20" {
		t.Errorf("Current() = %s, want the newest (20)", got)
	}
}
