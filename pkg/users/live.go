package users

import (
	"context"
	"fmt"
	"slices"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// VerifyLive signs in with the new credentials: the API server must see the
// expected user and groups, and, asked by the user itself, must answer each
// access check as the reviews did.
func VerifyLive(ctx context.Context, base *rest.Config, r *Request, c *Credentials, checks []Check) error {
	cfg := rest.AnonymousClientConfig(base)
	cfg.CertData, cfg.KeyData, cfg.BearerToken = c.CertPEM, c.KeyPEM, c.Token
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	who, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("signing in with the new credentials failed: %w", err)
	}
	if u := who.Status.UserInfo; u.Username != r.Username() || !containsAll(u.Groups, r.UserGroups()) {
		return fmt.Errorf("the new credentials authenticate as %q %v, want %q %v", u.Username, u.Groups, r.Username(), r.UserGroups())
	}
	for _, ch := range checks {
		rev, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
			Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: ch.attrs()},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("asking as the new user: %w", err)
		}
		if rev.Status.Allowed != ch.Want {
			return fmt.Errorf("as the new user, %s is %v, want %v", ch.Permission, rev.Status.Allowed, ch.Want)
		}
	}
	return nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
