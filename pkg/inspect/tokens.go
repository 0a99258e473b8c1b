package inspect

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// Token is one bootstrap token. Stable JSON names.
type Token struct {
	ID          string     `json:"id"`
	Secret      string     `json:"secret"` // masked unless asked for
	Expiration  *time.Time `json:"expiration,omitempty"`
	TTL         string     `json:"ttl"`
	Usages      []string   `json:"usages"`
	ExtraGroups []string   `json:"extraGroups,omitempty"`
	Description string     `json:"description,omitempty"`
	Signed      bool       `json:"signed"` // cluster-info carries its JWS signature
	Problems    []string   `json:"problems,omitempty"`
}

// Tokens is the bootstrap token picture of a cluster.
type Tokens struct {
	Tokens []Token `json:"tokens"`
	// OrphanSignatures are cluster-info signatures whose token is gone.
	OrphanSignatures []string `json:"orphanSignatures,omitempty"`
	// ClusterInfo says whether kube-public/cluster-info is readable without
	// credentials, as kubeadm join's discovery needs.
	ClusterInfo string `json:"clusterInfo"`
}

const jwsPrefix = "jws-kubeconfig-"

// ReadTokens lists bootstrap tokens (only Secrets of their type, selected on
// the server) and matches them with cluster-info's signatures; anon is a
// client without credentials.
func ReadTokens(ctx context.Context, cs, anon kubernetes.Interface, showSecrets bool, now time.Time) (*Tokens, error) {
	secrets, err := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", string(corev1.SecretTypeBootstrapToken)).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing bootstrap tokens: %w", err)
	}
	out := &Tokens{}
	sigs := map[string]bool{}
	ci, err := cs.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		out.ClusterInfo = "missing: kube-public/cluster-info does not exist, so kubeadm join cannot discover the cluster (kubeadm init phase bootstrap-token creates it)"
	case err != nil:
		return nil, fmt.Errorf("reading kube-public/cluster-info: %w", err)
	default:
		for k := range ci.Data {
			if id, ok := strings.CutPrefix(k, jwsPrefix); ok {
				sigs[id] = true
			}
		}
		out.ClusterInfo = anonymousAccess(ctx, anon)
	}
	for _, s := range secrets.Items {
		out.Tokens = append(out.Tokens, token(s, sigs, showSecrets, now))
	}
	sort.Slice(out.Tokens, func(i, j int) bool { return out.Tokens[i].ID < out.Tokens[j].ID })
	for id := range sigs {
		if !slices.ContainsFunc(out.Tokens, func(t Token) bool { return t.ID == id }) {
			out.OrphanSignatures = append(out.OrphanSignatures, id)
		}
	}
	sort.Strings(out.OrphanSignatures)
	return out, nil
}

func anonymousAccess(ctx context.Context, anon kubernetes.Interface) string {
	if anon == nil {
		return "present"
	}
	_, err := anon.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("not readable anonymously (%v): kubeadm join's token discovery will fail; kubeadm's RoleBinding kube-public/kubeadm:bootstrap-signer-clusterinfo grants it", reason(err))
	}
	return "readable anonymously"
}

func reason(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok {
		return string(s.Status().Reason)
	}
	return err.Error()
}

func token(s corev1.Secret, sigs map[string]bool, showSecrets bool, now time.Time) Token {
	d := func(k string) string { return string(s.Data[k]) }
	t := Token{ID: d("token-id"), Secret: "******", Description: d("description"), Signed: sigs[d("token-id")]}
	if showSecrets {
		t.Secret = d("token-secret")
	}
	for _, u := range []string{"authentication", "signing"} {
		if d("usage-bootstrap-"+u) == "true" {
			t.Usages = append(t.Usages, u)
		}
	}
	if g := d("auth-extra-groups"); g != "" {
		t.ExtraGroups = strings.Split(g, ",")
	}
	t.TTL = "never expires"
	if exp, err := time.Parse(time.RFC3339, d("expiration")); err == nil {
		t.Expiration = &exp
		t.TTL = exp.Sub(now).Round(time.Second).String()
		if !exp.After(now) {
			t.TTL = "expired"
			t.Problems = append(t.Problems, "expired but not removed: is kube-controller-manager's tokencleaner running?")
		} else if exp.Sub(now) > 24*time.Hour {
			t.Problems = append(t.Problems, "lives longer than 24h: a leaked join token is a node-join credential; prefer short TTLs")
		}
	} else {
		t.Problems = append(t.Problems, "never expires: a leaked join token is a node-join credential forever")
	}
	if slices.Contains(t.Usages, "signing") && !t.Signed {
		t.Problems = append(t.Problems, "no signature in cluster-info: is kube-controller-manager's bootstrapsigner running?")
	}
	if s.Name != "bootstrap-token-"+t.ID {
		t.Problems = append(t.Problems, fmt.Sprintf("secret is named %s, not bootstrap-token-%s: the API server ignores it", s.Name, t.ID))
	}
	return t
}
