//go:build integration

package controlplane_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/pki"
)

func etcdClient(t *testing.T, certs ...tls.Certificate) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(cp.PKI.EtcdCA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs},
	}}
}

func TestEtcdServesOurClientCert(t *testing.T) {
	pair, err := tls.LoadX509KeyPair(cp.PKI.EtcdClient, cp.PKI.EtcdClientKey)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := etcdClient(t, pair).Get(cp.EtcdURL + "/health")
	if err != nil {
		t.Fatalf("etcd refused our client certificate: %v", err)
	}
	defer resp.Body.Close()
	var h struct{ Health string }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Health != "true" {
		t.Fatalf("GET /health: HTTP %d, health=%q, %v; want health true", resp.StatusCode, h.Health, err)
	}
}

func TestEtcdRefusesClientWithoutCert(t *testing.T) {
	resp, err := etcdClient(t).Get(cp.EtcdURL + "/health")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("etcd answered HTTP %d to a client without a certificate; want the TLS handshake refused", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error %v, want a TLS certificate error", err)
	}
}

func TestEtcdRefusesCertFromAnotherCA(t *testing.T) {
	other, err := pki.NewCA(pki.CAOptions{CommonName: "not-etcd-ca"})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := other.Issue(pki.CertRequest{CommonName: "intruder", Profile: pki.ProfileClient})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := etcdClient(t, pair).Get(cp.EtcdURL + "/health")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("etcd accepted a client certificate from a foreign CA (HTTP %d)", resp.StatusCode)
	}
}

func TestAPIServerUsesEtcdAsExternalOverMTLS(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("/proc", itoa(cp.API.PID()), "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(string(b), "\x00")
	for _, want := range []string{"--etcd-servers=" + cp.EtcdURL, "--etcd-certfile=" + cp.PKI.EtcdClient, "--etcd-cafile=" + cp.PKI.EtcdCA} {
		if !contains(args, want) {
			t.Errorf("kube-apiserver runs without %s", want)
		}
	}
}
