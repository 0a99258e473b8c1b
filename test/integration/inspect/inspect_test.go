//go:build integration

// Package inspect_test runs `kubectl kbs inspect` against objects that the
// real kubeadm wrote into the real control plane.
package inspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/inspect"
	"github.com/kubectl-kbs/kbs/test/controlplane"
	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

var (
	cp      *controlplane.ControlPlane
	cluster *nodes.Cluster
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	cp, err = controlplane.Start(ctx)
	if err == nil {
		cluster, err = nodes.Boot(ctx, nodes.Options{Count: 1, Prefix: "insp"})
	}
	if err == nil {
		err = runKubeadm()
	}
	if err == nil {
		err = createControlPlanePods(ctx)
	}
	cancel()
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if cluster != nil {
		cluster.Stop()
	}
	if cp != nil {
		cp.Stop()
	}
	os.Exit(code)
}

// runKubeadm has the real kubeadm write what `kubeadm init` writes to the
// API: the configuration, a bootstrap token, cluster-info and its RBAC.
func runKubeadm() error {
	kubeadm, err := env.Binary("kubeadm")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kbs-inspect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "kubeadm.yaml")
	err = os.WriteFile(cfg, []byte(kubeadmConfig()), 0o600)
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "phase", "upload-config", "kubeadm", "--config", cfg},
		{"init", "phase", "upload-config", "kubelet", "--config", cfg},
		{"init", "phase", "bootstrap-token", "--config", cfg},
		{"token", "create", "--ttl", "30m"},
	} {
		out, err := exec.Command(kubeadm, append(args, "--kubeconfig", cp.AdminKubeconfig)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("kubeadm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// kubeadmConfig is the cluster's configuration, as an operator would give it.
func kubeadmConfig() string {
	return fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: abcdef.0123456789abcdef
  ttl: 1h
nodeRegistration: {name: master-0}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.2
controlPlaneEndpoint: 10.0.0.20:6443
etcd:
  external:
    endpoints: [%q]
    caFile: /etc/kubernetes/pki/etcd/ca.crt
    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt
    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key
networking: {podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12}
apiServer:
  certSANs: [master-0]
  extraArgs:
  - {name: audit-log-maxage, value: "7"}
`, cp.EtcdURL)
}

func kbs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := kbsrun.Run(context.Background(), append(args, "--kubeconfig", cp.AdminKubeconfig)...)
	return out + errOut, err
}

func TestKubeadmConfigFromRealKubeadm(t *testing.T) {
	out, err := kbs(t, "inspect", "kubeadm-config", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var c inspect.KubeadmConfig
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.APIVersion != "kubeadm.k8s.io/v1beta4" || c.Outdated != "" || c.KubernetesVersion != "v1.37.2" || c.ControlPlaneEndpoint != "10.0.0.20:6443" {
		t.Errorf("config %+v", c)
	}
	if c.Etcd.Mode != "external" || len(c.Etcd.Endpoints) != 1 || c.Etcd.Endpoints[0] != cp.EtcdURL || c.Etcd.KeyFile != "/etc/kubernetes/pki/apiserver-etcd-client.key" {
		t.Errorf("etcd %+v", c.Etcd)
	}
	if c.Networking["podSubnet"] != "10.244.0.0/16" || strings.Join(c.ExtraArgs["apiServer"], " ") != "audit-log-maxage=7" {
		t.Errorf("networking %v extraArgs %v", c.Networking, c.ExtraArgs)
	}
	if c.Kubelet["cgroupDriver"] == "" {
		t.Errorf("kubelet-config summary missing: %v", c.Kubelet)
	}
	table, err := kbs(t, "inspect", "kubeadm-config")
	if err != nil || !strings.Contains(table, "external "+cp.EtcdURL) {
		t.Errorf("table: %v\n%s", err, table)
	}
}

func TestTokensFromRealKubeadm(t *testing.T) {
	var tk inspect.Tokens
	// bootstrapsigner signs cluster-info shortly after the tokens appear;
	// what is still unsigned after 30s is reported below.
	_ = wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, err := kbs(t, "inspect", "tokens", "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		tk = inspect.Tokens{}
		json.Unmarshal([]byte(out), &tk)
		signed := 0
		for _, x := range tk.Tokens {
			if x.Signed {
				signed++
			}
		}
		return len(tk.Tokens) == 2 && signed == 2, nil
	})
	if len(tk.Tokens) != 2 {
		t.Fatalf("want kubeadm's two tokens, got %+v", tk.Tokens)
	}
	for _, x := range tk.Tokens {
		if !x.Signed || x.Secret != "******" || len(x.Problems) > 0 || x.ExtraGroups[0] != "system:bootstrappers:kubeadm:default-node-token" {
			t.Errorf("token %+v", x)
		}
	}
	if tk.ClusterInfo != "readable anonymously" {
		t.Errorf("cluster-info: %s", tk.ClusterInfo)
	}
	if out, _ := kbs(t, "inspect", "tokens", "--show-secrets"); !strings.Contains(out, "abcdef.0123456789abcdef") {
		t.Errorf("--show-secrets:\n%s", out)
	}
}

// Objects missing or access revoked: clear messages, no stack traces. What
// it removes is put back, so other tests do not depend on running first.
func TestMissingObjects(t *testing.T) {
	cs := kubernetes.NewForConfigOrDie(cp.AdminConfig)
	ctx := context.Background()
	rb, err := cs.RbacV1().RoleBindings("kube-public").Get(ctx, "kubeadm:bootstrap-signer-clusterinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kubeadm-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		rb.ResourceVersion, cm.ResourceVersion = "", ""
		cs.RbacV1().RoleBindings("kube-public").Create(ctx, rb, metav1.CreateOptions{})
		cs.CoreV1().ConfigMaps("kube-system").Create(ctx, cm, metav1.CreateOptions{})
	}()
	if err := cs.RbacV1().RoleBindings("kube-public").Delete(ctx, rb.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := kbs(t, "inspect", "tokens")
	if err != nil || !strings.Contains(out, "not readable anonymously") || !strings.Contains(out, "kubeadm join") {
		t.Errorf("revoked anonymous access: %v\n%s", err, out)
	}
	if err := cs.CoreV1().ConfigMaps("kube-system").Delete(ctx, "kubeadm-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kbs(t, "inspect", "kubeadm-config"); err == nil || !strings.Contains(err.Error(), "kubeadm-config does not exist") {
		t.Errorf("missing kubeadm-config: %v", err)
	}
}

func TestSummary(t *testing.T) {
	out, err := kbs(t, "inspect")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"kubeadm-config  kubeadm.k8s.io/v1beta4, v1.37.2", "static-pods     3:", "drift ", "tokens          2 bootstrap tokens", "rbac ", "certs "} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
