//go:build integration

package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/test/env"
)

// BenchmarkInspect: on an API server holding 5,000 pods in 200 namespaces
// (and three control-plane pods), `kubectl kbs inspect static-pods -o yaml`
// against `kubectl get pods -n kube-system -l tier=control-plane -o yaml`,
// both as separate processes. inspect must ask only for what it needs.
func BenchmarkInspect(b *testing.B) {
	needControlPlane(b)
	populate(b)
	kubectl, err := env.Binary("kubectl")
	if err != nil {
		b.Fatal(err)
	}
	root, _ := env.RepoRoot()
	kbs := filepath.Join(b.TempDir(), "kubectl-kbs")
	if out, err := exec.Command("go", "build", "-o", kbs, filepath.Join(root, "cmd", "kubectl-kbs")).CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	run := func(b *testing.B, name string, args ...string) {
		for b.Loop() {
			if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
		}
	}
	b.Run("kbs", func(b *testing.B) {
		run(b, kbs, "inspect", "static-pods", "-o", "yaml", "--kubeconfig", cp.AdminKubeconfig)
	})
	b.Run("kbs-summary", func(b *testing.B) {
		run(b, kbs, "inspect", "--kubeconfig", cp.AdminKubeconfig)
	})
	b.Run("kubectl", func(b *testing.B) {
		run(b, kubectl, "get", "pods", "-n", "kube-system", "-l", "tier=control-plane", "-o", "yaml", "--kubeconfig", cp.AdminKubeconfig)
	})
}

var populateOnce sync.Once

func populate(b *testing.B) {
	b.Helper()
	populateOnce.Do(func() {
		cs := kubernetes.NewForConfigOrDie(withQPS(cp))
		ctx := context.Background()
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			if err := createPod(ctx, cs, "kube-system", c+"-master-0", map[string]string{"component": c, "tier": "control-plane"}); err != nil {
				b.Fatal(err)
			}
		}
		jobs := make(chan [2]string)
		var wg sync.WaitGroup
		errs := make(chan error, 1)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					if err := createPod(ctx, cs, j[0], j[1], map[string]string{"app": "filler"}); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}()
		}
		for n := range 200 {
			ns := fmt.Sprintf("load-%03d", n)
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			for p := range 25 {
				jobs <- [2]string{ns, fmt.Sprintf("filler-%02d", p)}
			}
		}
		close(jobs)
		wg.Wait()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	})
}

// createPod makes a pod bound to a node that does not exist (it never runs),
// retrying while the namespace's default ServiceAccount is not there yet.
func createPod(ctx context.Context, cs kubernetes.Interface, ns, name string, labels map[string]string) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{NodeName: "master-0", Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		return err == nil, nil
	})
}
