// Package workload is what the end-to-end tests run on a cluster kbs
// built, whatever its pod network: a server pod on each worker, a Service,
// a client on one worker that reaches the server on the other by pod IP,
// Service IP and DNS name — and, where the network enforces them,
// NetworkPolicies.
package workload

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The images the bundle imported on every node: CoreDNS serves HTTP on
// /health, the flannel image has bash, getent and coreutils for a client.
const (
	serverImage = "kbs.local/coredns:v1.14.6"
	clientImage = "kbs.local/flannel:v0.28.10"
	ns          = "e2e"
)

// clientScript probes each target over plain TCP with bash's /dev/tcp:
// the server's pod IP on the other worker, the Service's cluster IP, and the
// Service's DNS name through the cluster DNS.
//
// Each target gets up to 30 tries a second apart: the Service's rules reach
// worker-1's kube-proxy a moment after its pods are Running, and a probe
// that raced them is not a broken Service; one that never answers is.
const clientScript = `set -eu
probe() {
  for i in $(seq 30); do
    if timeout 10 bash -c 'exec 3<>/dev/tcp/$0/8080; printf "GET /health HTTP/1.0\r\n\r\n" >&3; grep -q "^OK" <&3' "$1"; then
      echo "ok $1"
      return 0
    fi
    sleep 1
  done
  echo "no answer from $1"
  return 1
}
probe "$POD_IP"
probe "$SVC_IP"
getent hosts web.e2e.svc.cluster.local
probe web.e2e.svc.cluster.local`

// Servers are the server pods by worker, and their Service.
type Servers struct {
	Pods    map[string]*corev1.Pod
	Service *corev1.Service
}

// Check runs the servers, the Service and the client, and fails t unless
// the client reaches all three targets.
func Check(t *testing.T, cs kubernetes.Interface) Servers {
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	must(cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "corefile"},
		Data:       map[string]string{"Corefile": ".:5353 {\n    health :8080\n    errors\n}\n"},
	}, metav1.CreateOptions{}))
	for _, w := range []string{"worker-0", "worker-1"} {
		must(cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-" + w, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"kubernetes.io/hostname": w},
				Containers: []corev1.Container{{
					Name: "web", Image: serverImage, ImagePullPolicy: corev1.PullNever,
					Args:         []string{"-conf", "/etc/coredns/Corefile"},
					Ports:        []corev1.ContainerPort{{ContainerPort: 8080}},
					VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/coredns"}},
				}},
				Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "corefile"}}}}},
			},
		}, metav1.CreateOptions{}))
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	must(svc, err)
	servers := map[string]*corev1.Pod{}
	for _, w := range []string{"worker-0", "worker-1"} {
		servers[w] = WaitPod(t, cs, ns, "web-"+w, corev1.PodRunning)
		if servers[w].Spec.NodeName != w {
			t.Fatalf("web-%s runs on %s", w, servers[w].Spec.NodeName)
		}
	}
	// The client runs on worker-1 and reaches the server on worker-0:
	// across nodes, through the pod network's VXLAN.
	must(cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector:  map[string]string{"kubernetes.io/hostname": "worker-1"},
			Containers: []corev1.Container{{
				Name: "client", Image: clientImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"bash", "-c", clientScript},
				Env: []corev1.EnvVar{
					{Name: "POD_IP", Value: servers["worker-0"].Status.PodIP},
					{Name: "SVC_IP", Value: svc.Spec.ClusterIP},
				},
			}},
		},
	}, metav1.CreateOptions{}))
	WaitPod(t, cs, ns, "client", corev1.PodSucceeded)
	logs, err := cs.CoreV1().Pods(ns).GetLogs("client", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("client (worker-1) → server (worker-0 %s), Service %s, DNS:\n%s", servers["worker-0"].Status.PodIP, svc.Spec.ClusterIP, logs)
	return Servers{Pods: servers, Service: svc}
}

// WaitPod waits up to three minutes for the pod to reach phase.
func WaitPod(t *testing.T, cs kubernetes.Interface, ns, name string, phase corev1.PodPhase) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		pod, err = cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if pod.Status.Phase == corev1.PodFailed && phase != corev1.PodFailed {
			return false, fmt.Errorf("pod failed")
		}
		return pod.Status.Phase == phase, nil
	})
	if err != nil {
		logs, _ := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(context.Background())
		phaseNow := corev1.PodPhase("unknown")
		if pod != nil {
			phaseNow = pod.Status.Phase
		}
		t.Fatalf("pod %s/%s: want %s, is %s (%v); logs:\n%s", ns, name, phase, phaseNow, err, logs)
	}
	return pod
}

// Client is a clientset for the cluster of kubeconfig.
func Client(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
