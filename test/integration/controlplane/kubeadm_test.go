//go:build integration

package controlplane_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/test/env"
)

func kubeadmValidate(t *testing.T, config string) (string, error) {
	t.Helper()
	kubeadm, err := env.Binary("kubeadm")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeadm.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubeadm, "config", "validate", "--config", path).CombinedOutput()
	return string(out), err
}

// externalEtcdConfig is the current form of the notes' kubeadm config: v1beta4,
// the harness's etcd as external etcd with our client certificates.
func externalEtcdConfig(networking string) string {
	return fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  name: master-0
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.2
controlPlaneEndpoint: 127.0.0.1:6443
etcd:
  external:
    endpoints: [%q]
    caFile: %s
    certFile: %s
    keyFile: %s
networking:
%s
apiServer:
  certSANs: [master-0, 127.0.0.1]
`, cp.EtcdURL, cp.PKI.EtcdCA, cp.PKI.EtcdClient, cp.PKI.EtcdClientKey, networking)
}

func TestKubeadmValidatesV1beta4ExternalEtcd(t *testing.T) {
	out, err := kubeadmValidate(t, externalEtcdConfig("  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12"))
	if err != nil {
		t.Fatalf("kubeadm config validate rejected a valid v1beta4 external-etcd config: %v\n%s", err, out)
	}
}

func TestKubeadmRejectsNotesPodCidr(t *testing.T) {
	out, err := kubeadmValidate(t, externalEtcdConfig("  podCidr: 10.244.0.0/16"))
	if err == nil || !strings.Contains(out, "podCidr") {
		t.Fatalf("kubeadm accepted the notes' networking.podCidr (err=%v):\n%s", err, out)
	}
}

// kubeadm 1.37 does not reject the notes' v1alpha1 MasterConfiguration: it
// ignores documents of unknown API groups/versions, validates the defaults and
// prints "ok". This pins that behaviour: kbs must reject such files itself,
// before kubeadm sees them, because kubeadm will not.
func TestKubeadmIgnoresNotesV1alpha1(t *testing.T) {
	out, err := kubeadmValidate(t, `apiVersion: kubeadm.k8s.io/v1alpha1
kind: MasterConfiguration
api:
  advertiseAddress: 10.0.0.2
etcd:
  endpoints: [https://10.0.0.5:2379]
networking:
  podCidr: 10.244.0.0/16
`)
	if err != nil || strings.TrimSpace(out) != "ok" {
		t.Fatalf("kubeadm's handling of v1alpha1 changed (err=%v): %s\nrevisit kbs's own apiVersion check", err, out)
	}
}

// v1beta3 was removed in 1.37: kubeadm refuses it and points at migrate.
func TestKubeadmRejectsV1beta3(t *testing.T) {
	cfg := strings.Replace(externalEtcdConfig("  podSubnet: 10.244.0.0/16"), "v1beta4", "v1beta3", -1)
	out, err := kubeadmValidate(t, cfg)
	if err == nil || !strings.Contains(out, "old API spec") {
		t.Fatalf("kubeadm accepted v1beta3 (err=%v):\n%s", err, out)
	}
}
