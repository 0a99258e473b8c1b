//go:build integration

package controlplane_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/test/env"
)

func TestAPIServerReady(t *testing.T) {
	cs := adminClient(t)
	for _, path := range []string{"/readyz", "/livez"} {
		body, err := cs.Discovery().RESTClient().Get().AbsPath(path).DoRaw(context.Background())
		if err != nil || strings.TrimSpace(string(body)) != "ok" {
			t.Errorf("GET %s = %q, %v; want ok", path, body, err)
		}
	}
}

// Real kubectl, through the harness's kubeconfig.
func TestKubectlThroughAdminKubeconfig(t *testing.T) {
	kubectl, err := env.Binary("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", cp.AdminKubeconfig, "get", "namespace", "kube-system", "-o", "name").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "namespace/kube-system" {
		t.Fatalf("kubectl get namespace kube-system: %s %v", out, err)
	}
}

// The users issue checks local CAs against this ConfigMap; it must hold ours.
func TestClientCAPublished(t *testing.T) {
	cm, err := adminClient(t).CoreV1().ConfigMaps("kube-system").Get(context.Background(), "extension-apiserver-authentication", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(cp.PKI.CA)
	published, err := pki.ParseCertsPEM([]byte(cm.Data["client-ca-file"]))
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := pki.ParseCertPEM(want)
	if !published[0].Equal(ours) {
		t.Fatal("client-ca-file does not hold the cluster CA the harness made")
	}
}

// A bootstrap token Secret authenticates as system:bootstrap:<id>, and the
// controller-manager's bootstrapsigner signs cluster-info with it: the two
// halves of kubeadm join's discovery.
func TestBootstrapTokenAuthAndSigning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := adminClient(t)
	const id, secret = "kbstst", "0123456789abcdef"
	_, err := cs.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id},
		Type:       "bootstrap.kubernetes.io/token",
		StringData: map[string]string{
			"token-id": id, "token-secret": secret,
			"expiration":                     time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
			"auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokenCfg := rest.AnonymousClientConfig(cp.AdminConfig)
	tokenCfg.BearerToken = id + "." + secret
	tokenClient := kubernetes.NewForConfigOrDie(tokenCfg)
	review, err := tokenClient.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("bootstrap token not accepted: %v", err)
	}
	if u := review.Status.UserInfo; u.Username != "system:bootstrap:"+id || !contains(u.Groups, "system:bootstrappers:kubeadm:default-node-token") {
		t.Fatalf("token authenticated as %q %v", u.Username, u.Groups)
	}

	_, err = cs.CoreV1().ConfigMaps("kube-public").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-info"},
		Data:       map[string]string{"kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "configmaps", "kube-public", fields.OneTermEqualSelector("metadata.name", "cluster-info"))
	_, err = watchtools.UntilWithSync(ctx, lw, &corev1.ConfigMap{}, nil, func(ev watchEvent) (bool, error) {
		cm, ok := ev.Object.(*corev1.ConfigMap)
		return ok && cm.Data["jws-kubeconfig-"+id] != "", nil
	})
	if err != nil {
		t.Fatalf("bootstrapsigner never signed cluster-info for token %s: %v", id, err)
	}
}
