package inspect

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func tokenSecret(id string, exp time.Time, signing bool) *corev1.Secret {
	data := map[string][]byte{
		"token-id": []byte(id), "token-secret": []byte("0123456789abcdef"),
		"usage-bootstrap-authentication": []byte("true"),
		"auth-extra-groups":              []byte("system:bootstrappers:kubeadm:default-node-token"),
	}
	if signing {
		data["usage-bootstrap-signing"] = []byte("true")
	}
	if !exp.IsZero() {
		data["expiration"] = []byte(exp.Format(time.RFC3339))
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: "kube-system"},
		Type: corev1.SecretTypeBootstrapToken, Data: data}
}

// The matching logic on fixed objects; the live cluster test covers what
// real kubeadm writes.
func TestTokensMatchSignatures(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	cs := fake.NewSimpleClientset(
		tokenSecret("aaaaaa", now.Add(time.Hour), true),
		tokenSecret("bbbbbb", now.Add(-time.Minute), true),
		tokenSecret("cccccc", time.Time{}, false),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"},
			Data: map[string]string{"kubeconfig": "x", "jws-kubeconfig-aaaaaa": "sig", "jws-kubeconfig-zzzzzz": "sig"}},
	)
	got, err := ReadTokens(context.Background(), cs, nil, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tokens) != 3 || got.Tokens[0].Secret != "******" {
		t.Fatalf("tokens %+v", got.Tokens)
	}
	want := map[string]string{"aaaaaa": "", "bbbbbb": "expired but not removed", "cccccc": "never expires"}
	for _, tk := range got.Tokens {
		p := strings.Join(tk.Problems, "; ")
		if want[tk.ID] == "" && p != "" || !strings.Contains(p, want[tk.ID]) {
			t.Errorf("token %s problems %q, want %q", tk.ID, p, want[tk.ID])
		}
	}
	if !strings.Contains(strings.Join(got.Tokens[1].Problems, ";"), "no signature") {
		t.Error("a signing token without a signature is not flagged")
	}
	if len(got.OrphanSignatures) != 1 || got.OrphanSignatures[0] != "zzzzzz" {
		t.Errorf("orphan signatures %v, want [zzzzzz]", got.OrphanSignatures)
	}
	shown, _ := ReadTokens(context.Background(), cs, nil, true, now)
	if shown.Tokens[0].Secret != "0123456789abcdef" {
		t.Error("--show-secrets does not show the secret")
	}
}
