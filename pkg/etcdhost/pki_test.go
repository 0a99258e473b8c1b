package etcdhost

import (
	"slices"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/state"
)

// Day-2 steps must issue exactly what they deploy: a certificate close to
// expiry is renewed by init, kept by a step that renews something else.
func TestLoadEtcdPKIRenewal(t *testing.T) {
	c := loadExample(t, "k8s")
	c.Spec.Etcd.CertValidity = "1h" // always "within 30 days"
	s, err := state.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	server := ServerCertName("etcd-0")
	for _, tc := range []struct {
		name  string
		renew []string
		want  []string
	}{
		{"first init issues everything", nil, []string{"etcd CA", server, PeerCertName("etcd-0"), APIServerEtcdClientName}},
		{"init renews what expires soon", nil, []string{server, PeerCertName("etcd-0"), APIServerEtcdClientName}},
		{"day 2 keeps it", []string{}, nil},
		{"rotation renews only what it names", []string{server}, []string{server}},
	} {
		_, issued, err := LoadPKI(c, s, tc.renew)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(issued, tc.want) {
			t.Errorf("%s: issued %v, want %v", tc.name, issued, tc.want)
		}
	}
	p, err := ReadPKI(c, s)
	if err != nil || p.Server["etcd-0"] == nil || p.Client == nil {
		t.Fatalf("ReadPKI: %v %+v", err, p)
	}
}
