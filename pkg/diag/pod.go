package diag

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// PodTransport reads a node through a privileged pod bound to it: the
// host's root is mounted at /host and every source runs under chroot, so
// journald and the log files are the host's own. It is for nodes whose SSH
// is down but whose kubelet still runs pods; the pod is always deleted.
type PodTransport struct {
	Client    kubernetes.Interface
	Config    *rest.Config
	Namespace string // must allow privileged pods (Pod Security "privileged"); default kube-system
	Image     string // any image with /bin/sh and chroot, present on the node or pullable
}

// PodTimeout bounds how long the debug pod may take to start.
const PodTimeout = 90 * time.Second

// start creates the pod and waits until it runs; stop deletes it.
func (p *PodTransport) start(ctx context.Context, node string) (name string, stop func(), err error) {
	ns := p.namespace()
	if err := p.checkPodSecurity(ctx, ns); err != nil {
		return "", nil, err
	}
	priv, zero := true, int64(0)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "kbs-diag-", Namespace: ns,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kbs", "kbs.kubectl-kbs.io/diag": node}},
		Spec: corev1.PodSpec{
			NodeName: node, HostPID: true, HostNetwork: true, RestartPolicy: corev1.RestartPolicyNever,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name: "diag", Image: p.Image, ImagePullPolicy: corev1.PullIfNotPresent,
				// It ends by itself should kbs die before deleting it.
				Command:         []string{"sleep", "900"},
				SecurityContext: &corev1.SecurityContext{Privileged: &priv},
				VolumeMounts:    []corev1.VolumeMount{{Name: "host", MountPath: "/host"}},
			}},
			Volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
		},
	}
	created, err := p.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("creating the debug pod: %w", err)
	}
	stop = func() {
		_ = p.Client.CoreV1().Pods(ns).Delete(context.WithoutCancel(ctx), created.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, PodTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := p.Client.CoreV1().Pods(ns).Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = string(got.Status.Phase)
		for _, cs := range got.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				last += " (" + w.Reason + ")"
			}
		}
		if got.Status.Phase == corev1.PodFailed || got.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("debug pod ended: %s", got.Status.Phase)
		}
		return got.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("debug pod on %s did not start (%s): %w", node, last, err)
	}
	return created.Name, stop, nil
}

func (p *PodTransport) namespace() string {
	if p.Namespace == "" {
		return "kube-system"
	}
	return p.Namespace
}

// checkPodSecurity refuses a namespace whose Pod Security level would
// reject a privileged pod, with the fix, instead of a cryptic admission error.
func (p *PodTransport) checkPodSecurity(ctx context.Context, ns string) error {
	n, err := p.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	if lvl := n.Labels["pod-security.kubernetes.io/enforce"]; lvl != "" && lvl != "privileged" {
		return fmt.Errorf("namespace %s enforces Pod Security %q, which forbids the privileged debug pod: use --pod-namespace with a privileged namespace", ns, lvl)
	}
	return nil
}

// exec streams one source's command, run in the host's root, into w.
func (p *PodTransport) exec(ctx context.Context, pod, cmd string, w io.Writer) error {
	req := p.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.namespace()).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "diag", Command: []string{"chroot", "/host", "sh", "-c", cmd}, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(p.Config, "POST", req.URL())
	if err != nil {
		return err
	}
	var stderr strings.Builder
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: w, Stderr: &limitedWriter{w: &stderr, n: 4096}})
	if err != nil && stderr.Len() > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return err
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	k := min(len(p), l.n)
	l.n -= k
	_, err := l.w.Write(p[:k])
	return len(p), err
}

// CollectNodePod collects the node's sources through a debug pod.
func (p *PodTransport) CollectNodePod(ctx context.Context, node, role string, b *Bundle, o Options) ([]Source, error) {
	pod, stop, err := p.start(ctx, node)
	if err != nil {
		return nil, err
	}
	defer stop()
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	var failed []Source
	for _, c := range commandsFor(o, role) {
		cctx, cancel := context.WithTimeout(ctx, o.Timeout)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(p.exec(cctx, pod, c.Cmd, pw)) }()
		src := b.Add(node, c.Name, "pod", pr)
		pr.Close()
		cancel()
		if src.Status != "ok" {
			failed = append(failed, src)
		}
	}
	return failed, nil
}
