package pki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA(CAOptions{CommonName: "etcd-ca"})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	ca := newTestCA(t)
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "etcd-ca" {
		t.Fatalf("got CA=%v CN=%q, want a CA named etcd-ca", ca.Cert.IsCA, ca.Cert.Subject.CommonName)
	}
	life := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore)
	if life < DefaultCAExpiry-time.Hour || life > DefaultCAExpiry+time.Hour {
		t.Errorf("CA lifetime %s, want about %s", life, DefaultCAExpiry)
	}
	assertPKCS8(t, ca.KeyPEM)
}

func TestIssueProfiles(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		name      string
		req       CertRequest
		wantExt   []string
		wantLife  time.Duration
		wantKey   string
		wantHosts []string
	}{
		{
			name:      "server with SANs and default expiry",
			req:       CertRequest{CommonName: "etcd-0", Profile: ProfileServer, Hosts: []string{"etcd-0", "10.0.0.5"}},
			wantExt:   []string{"server auth", "client auth"},
			wantLife:  DefaultExpiry,
			wantKey:   "ECDSA P-256",
			wantHosts: []string{"etcd-0", "10.0.0.5"},
		},
		{
			name:     "client with group and custom expiry",
			req:      CertRequest{CommonName: "apiserver-etcd-client", Organizations: []string{"system:masters"}, Profile: ProfileClient, Expiry: 24 * time.Hour},
			wantExt:  []string{"client auth"},
			wantLife: 24 * time.Hour,
			wantKey:  "ECDSA P-256",
		},
		{
			name:      "peer with RSA key",
			req:       CertRequest{CommonName: "etcd-1", Profile: ProfilePeer, KeyType: RSA2048, Hosts: []string{"10.0.0.6"}},
			wantExt:   []string{"server auth", "client auth"},
			wantLife:  DefaultExpiry,
			wantKey:   "RSA 2048",
			wantHosts: []string{"10.0.0.6"},
		},
		{
			name:     "client with P-384 key",
			req:      CertRequest{CommonName: "u", Profile: ProfileClient, KeyType: ECDSAP384},
			wantExt:  []string{"client auth"},
			wantLife: DefaultExpiry,
			wantKey:  "ECDSA P-384",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := ca.Issue(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			info := Describe(kp.Cert)
			if !slices.Equal(info.ExtKeyUsages, tt.wantExt) {
				t.Errorf("ext key usages %v, want %v", info.ExtKeyUsages, tt.wantExt)
			}
			if !slices.Contains(info.KeyUsages, "digital signature") || !slices.Contains(info.KeyUsages, "key encipherment") {
				t.Errorf("key usages %v, want signing and key encipherment", info.KeyUsages)
			}
			// cfssl back-dates notBefore a little; allow for it.
			if life := kp.Cert.NotAfter.Sub(time.Now()); life > tt.wantLife || life < tt.wantLife-time.Hour {
				t.Errorf("valid for %s more, want %s", life, tt.wantLife)
			}
			if info.PublicKey != tt.wantKey {
				t.Errorf("key %s, want %s", info.PublicKey, tt.wantKey)
			}
			got := append(append([]string{}, info.DNSNames...), info.IPAddresses...)
			if !slices.Equal(got, tt.wantHosts) {
				t.Errorf("SANs %v, want %v", got, tt.wantHosts)
			}
			if !slices.Equal(info.Organizations, tt.req.Organizations) {
				t.Errorf("O=%v, want %v", info.Organizations, tt.req.Organizations)
			}
			if err := kp.Cert.CheckSignatureFrom(ca.Cert); err != nil {
				t.Errorf("not signed by the CA: %v", err)
			}
			assertPKCS8(t, kp.KeyPEM)
			if ok, err := KeyMatchesCert(kp.KeyPEM, kp.Cert); err != nil || !ok {
				t.Errorf("KeyMatchesCert = %v, %v; want true", ok, err)
			}
		})
	}
}

func TestIssueRejectsBadRequests(t *testing.T) {
	ca := newTestCA(t)
	tests := map[string]struct {
		req  CertRequest
		want string
	}{
		"unknown profile":  {CertRequest{CommonName: "x", Profile: "kubelet"}, `unknown certificate profile "kubelet"`},
		"no common name":   {CertRequest{Profile: ProfileClient}, "common name is required"},
		"unknown key type": {CertRequest{CommonName: "x", Profile: ProfileClient, KeyType: "dsa"}, `unknown key type "dsa"`},
		"negative expiry":  {CertRequest{CommonName: "x", Profile: ProfileClient, Expiry: -time.Hour}, "negative"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ca.Issue(tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestKeyMismatch(t *testing.T) {
	ca := newTestCA(t)
	a, _ := ca.Issue(CertRequest{CommonName: "a", Profile: ProfileClient})
	b, _ := ca.Issue(CertRequest{CommonName: "b", Profile: ProfileClient})
	if ok, err := KeyMatchesCert(a.KeyPEM, b.Cert); err != nil || ok {
		t.Fatalf("KeyMatchesCert(a's key, b's cert) = %v, %v; want false", ok, err)
	}
	if _, err := LoadCA(ca.CertPEM, a.KeyPEM); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("LoadCA with a foreign key: %v, want a mismatch error", err)
	}
	if _, err := LoadCA(a.CertPEM, a.KeyPEM); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Fatalf("LoadCA with a leaf: %v, want a not-a-CA error", err)
	}
}

func TestWriteModesAndReload(t *testing.T) {
	ca := newTestCA(t)
	dir := filepath.Join(t.TempDir(), "pki", "etcd")
	if err := ca.Write(dir, "ca"); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o700|os.ModeDir)
	assertMode(t, filepath.Join(dir, "ca.key"), 0o600)
	assertMode(t, filepath.Join(dir, "ca.crt"), 0o644)
	back, err := LoadCAFiles(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Cert.Equal(ca.Cert) {
		t.Fatal("reloaded CA differs")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("directory holds %d entries, want exactly ca.crt and ca.key (no temp files)", len(entries))
	}
}

func TestWriteTightensExistingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	kp, _ := newTestCA(t).Issue(CertRequest{CommonName: "c", Profile: ProfileClient})
	if err := kp.Write(dir, "client"); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o700|os.ModeDir)
}

func TestSPKIHash(t *testing.T) {
	ca := newTestCA(t)
	h := SPKIHash(ca.Cert)
	if !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
		t.Fatalf("SPKIHash = %q, want sha256:<64 hex>", h)
	}
	if other := SPKIHash(newTestCA(t).Cert); other == h {
		t.Fatal("two CAs hash alike")
	}
}

func TestParseCertsPEMBundle(t *testing.T) {
	a, b := newTestCA(t), newTestCA(t)
	certs, err := ParseCertsPEM(append(append([]byte{}, a.CertPEM...), b.CertPEM...))
	if err != nil || len(certs) != 2 {
		t.Fatalf("got %d certs, %v; want 2", len(certs), err)
	}
	if _, err := ParseCertsPEM([]byte("not pem")); err == nil {
		t.Fatal("want an error for input without certificates")
	}
}

func TestExpiresWithin(t *testing.T) {
	cert := &x509.Certificate{NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	now := time.Date(2029, 12, 1, 0, 0, 0, 0, time.UTC)
	if !ExpiresWithin(cert, now, 31*24*time.Hour) || ExpiresWithin(cert, now, 30*24*time.Hour) {
		t.Fatal("ExpiresWithin misjudges a cert 31 days from expiry")
	}
}

func assertPKCS8(t *testing.T, keyPEM []byte) {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key is not a PEM PRIVATE KEY (PKCS#8) block")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatalf("key is not PKCS#8: %v", err)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}
