package workload

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// watcherScript says every second whether the server answers: "open" or
// "closed", one line each, so the test reads the network's verdict from
// the log as it changes.
const watcherScript = `while true; do
  if timeout 2 bash -c 'exec 3<>/dev/tcp/$0/8080; printf "GET /health HTTP/1.0\r\n\r\n" >&3; grep -q "^OK" <&3' "$POD_IP" 2>/dev/null; then echo open; else echo closed; fi
  sleep 1
done`

// Policy proves the pod network enforces NetworkPolicy: a client on
// worker-1 reaches the server on worker-0; a default-deny ingress policy
// in the namespace closes that path; a policy that admits pods labelled
// role=client on port 8080 opens it again. Each change must show in the
// client's last three verdicts within a minute.
func Policy(t *testing.T, cs kubernetes.Interface, s Servers) {
	ctx := context.Background()
	server := s.Pods["worker-0"]
	_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "watcher", Labels: map[string]string{"role": "client"}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/hostname": "worker-1"},
			Containers: []corev1.Container{{
				Name: "watcher", Image: clientImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"bash", "-c", watcherScript},
				Env:     []corev1.EnvVar{{Name: "POD_IP", Value: server.Status.PodIP}},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	WaitPod(t, cs, ns, "watcher", corev1.PodRunning)
	verdict(t, cs, "open", "before any policy")

	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default-deny-ingress"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, deny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	verdict(t, cs, "closed", "with a default-deny ingress policy")

	port := intstr.FromInt32(8080)
	allow := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-clients"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
			}},
		},
	}
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, allow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	verdict(t, cs, "open", "with an allow rule for role=client")
}

// verdict waits until the watcher's last three lines all say want.
func verdict(t *testing.T, cs kubernetes.Interface, want, when string) {
	t.Helper()
	three := int64(3)
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		b, err := cs.CoreV1().Pods(ns).GetLogs("watcher", &corev1.PodLogOptions{TailLines: &three}).DoRaw(ctx)
		if err != nil {
			return false, nil
		}
		last = strings.TrimSpace(string(b))
		lines := strings.Fields(last)
		return len(lines) == 3 && strings.Count(last, want) == 3, nil
	})
	if err != nil {
		t.Fatalf("%s the server on worker-0 should be %s to the client on worker-1; its last verdicts: %q", when, want, last)
	}
	t.Logf("%s: %s", when, want)
}
