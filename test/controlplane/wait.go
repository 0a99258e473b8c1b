package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-kbs/kbs/test/env"
)

// startTimeout bounds how long any one component may take to become healthy.
const startTimeout = 90 * time.Second

// waitHealthy polls an HTTPS health endpoint until it answers 200 with a body
// that does not report ill health. A process exit ends the wait at once.
// Polling is the only way to learn a freshly started process is serving.
func waitHealthy(ctx context.Context, p *env.Process, url, caFile, certFile, keyFile string) error {
	client, err := tlsClient(caFile, certFile, keyFile)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, startTimeout, true, func(ctx context.Context) (bool, error) {
		if exited, werr := p.Exited(); exited {
			return false, fmt.Errorf("%s exited: %v", p.Name, werr)
		}
		last = get(ctx, client, url)
		return last == nil, nil
	})
	if err != nil {
		return describe(p, fmt.Errorf("%s not healthy at %s: %w (last probe: %v)", p.Name, url, err, last))
	}
	return nil
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"health":"false"`) {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// tlsClient verifies the server against caFile and, when certFile is set,
// presents that client certificate.
func tlsClient(caFile, certFile, keyFile string) (*http.Client, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificates in %s", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

// waitAPIReady waits for /readyz, which includes etcd and the post-start
// hooks that create the bootstrap RBAC policy.
func waitAPIReady(ctx context.Context, p *env.Process, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, startTimeout, true, func(ctx context.Context) (bool, error) {
		if exited, werr := p.Exited(); exited {
			return false, fmt.Errorf("kube-apiserver exited: %v", werr)
		}
		_, last = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return last == nil, nil
	})
	if err != nil {
		return describe(p, fmt.Errorf("kube-apiserver not ready: %w (last probe: %v)", err, last))
	}
	return nil
}

// waitControllersRunning waits, with a watch, for the root CA publisher to
// write default/kube-root-ca.crt: /healthz answers before the controllers
// start, and tests of CSRs and tokens need them running.
func waitControllersRunning(ctx context.Context, cp *ControlPlane) error {
	cs, err := kubernetes.NewForConfig(cp.AdminConfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "configmaps", "default", fields.OneTermEqualSelector("metadata.name", "kube-root-ca.crt"))
	_, err = watchtools.UntilWithSync(ctx, lw, &corev1.ConfigMap{}, nil, func(ev watch.Event) (bool, error) {
		return ev.Type != watch.Deleted, nil
	})
	if err != nil {
		return describe(cp.KCM, fmt.Errorf("kube-controller-manager's controllers did not start: %w", err))
	}
	// Aggregated roles (view, edit, admin) are empty until the aggregation
	// controller fills them.
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		cr, err := cs.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
		return err == nil && len(cr.Rules) > 0, nil
	})
	if err != nil {
		return describe(cp.KCM, fmt.Errorf("clusterrole view was never aggregated: %w", err))
	}
	return nil
}
