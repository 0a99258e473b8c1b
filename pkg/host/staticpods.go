package host

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// Where kubeadm's static pods live, and where kbs parks one to stop it:
// the kubelet stops a static pod whose manifest leaves the directory, and
// starts it again, unchanged, when the manifest comes back.
const (
	ManifestsDir = "/etc/kubernetes/manifests"
	PausedDir    = "/etc/kubernetes/kbs-paused"
)

// componentPorts are where each control-plane component listens.
var componentPorts = map[string]int{"kube-apiserver": 6443, "kube-controller-manager": 10257, "kube-scheduler": 10259}

// HastenExit shortens a component's graceful stop once it no longer
// listens: kube-apiserver closes its port at SIGTERM but lingers for up to
// the pod's 30 s grace period draining watches, which nobody can reach
// any more; killing the process then lets the kubelet start the new pod
// at once. A process that still listens is left alone.
func HastenExit(ctx context.Context, h *Host, component, pid string) {
	port, ok := componentPorts[component]
	if h.DryRun() || pid == "" || !ok {
		return
	}
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if _, alive, _ := h.Query(ctx, "kill -0 "+shell.Quote(pid)); !alive {
			return true, nil
		}
		listening, _, _ := h.Query(ctx, fmt.Sprintf("ss -Hltn 'sport = :%d'", port))
		if listening != "" {
			return false, nil
		}
		_ = h.Exec(ctx, "stop "+component+" now that it no longer listens", "kill -KILL "+shell.Quote(pid))
		return true, nil
	})
}

// PauseStaticPod stops a control-plane component (kube-apiserver, …) on h
// by parking its manifest, and waits until its process is gone. A
// component already parked stays parked.
func PauseStaticPod(ctx context.Context, h *Host, component string) error {
	m, parked := ManifestsDir+"/"+component+".yaml", PausedDir+"/"+component+".yaml"
	cmd := fmt.Sprintf("install -d -m 0700 %s && if [ -f %s ]; then mv -f %s %s; fi && test -f %s", PausedDir, m, m, parked, parked)
	pid := ProcessID(ctx, h, component)
	if err := h.Exec(ctx, "stop "+component, cmd); err != nil {
		return fmt.Errorf("%w (is %s a control-plane host made by kubeadm?)", err, h.Spec.Name)
	}
	HastenExit(ctx, h, component, pid)
	return waitProcess(ctx, h, component, false)
}

// ResumeStaticPod puts a parked manifest back and waits until the
// component runs again.
func ResumeStaticPod(ctx context.Context, h *Host, component string) error {
	m, parked := ManifestsDir+"/"+component+".yaml", PausedDir+"/"+component+".yaml"
	cmd := fmt.Sprintf("if [ -f %s ]; then mv -f %s %s; fi && test -f %s", parked, parked, m, m)
	if err := h.Exec(ctx, "start "+component, cmd); err != nil {
		return err
	}
	return waitProcess(ctx, h, component, true)
}

// RestartStaticPod stops and starts one component; kube-apiserver is
// waited for until it answers /readyz on this host, with the credentials of
// the admin kubeconfig at admin.
func RestartStaticPod(ctx context.Context, admin string, h *Host, component string) error {
	if err := PauseStaticPod(ctx, h, component); err != nil {
		return err
	}
	if err := ResumeStaticPod(ctx, h, component); err != nil {
		return err
	}
	if component == "kube-apiserver" {
		return APIServerReadyOn(ctx, admin, h, 2*time.Minute)
	}
	return nil
}

// ProcessID is the PID of a component's process on h ("" when none runs).
func ProcessID(ctx context.Context, h *Host, component string) string {
	// -f and an anchored pattern: comm is cut at 15 characters
	// (kube-controller-manager), and the pattern never matches the shell
	// running pgrep.
	out, ok, _ := h.Query(ctx, "pgrep -f "+shell.Quote("^[^ ]*"+component+"( |$)"))
	if !ok {
		return ""
	}
	return out
}

// WaitProcessReplaced waits until the component runs under another PID
// than before: the kubelet has replaced the static pod after a manifest
// change.
func WaitProcessReplaced(ctx context.Context, h *Host, component, before string) error {
	if h.DryRun() {
		return nil
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		now := ProcessID(ctx, h, component)
		return now != "" && now != before, nil
	})
	if err != nil {
		return fmt.Errorf("the kubelet did not restart %s on %s within 2m (on the host: journalctl -u kubelet)", component, h.Spec.Name)
	}
	return nil
}

func waitProcess(ctx context.Context, h *Host, component string, running bool) error {
	if h.DryRun() {
		return nil
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		return (ProcessID(ctx, h, component) != "") == running, nil
	})
	if err != nil {
		state := map[bool]string{true: "start", false: "stop"}[running]
		return fmt.Errorf("%s did not %s on %s within 2m (on the host: journalctl -u kubelet; crictl ps -a)", component, state, h.Spec.Name)
	}
	return nil
}

// APIServerReadyOn waits until the API server on h itself (not the load
// balancer) answers /readyz, with the admin credentials kbs keeps (the
// kubeconfig at admin).
func APIServerReadyOn(ctx context.Context, admin string, h *Host, timeout time.Duration) error {
	if h.DryRun() {
		return nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		return fmt.Errorf("no admin credentials in %s (%w): run kubectl kbs init phase control-plane", admin, err)
	}
	cfg.Host = "https://" + net.JoinHostPort(h.Spec.Address, strconv.Itoa(6443))
	cfg.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return APIReady(ctx, cs, timeout)
}

// APIReady waits until the API server answers /readyz with the client's
// credentials.
func APIReady(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, last = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the API server is not ready: %v (on the control plane: crictl ps -a; journalctl -u kubelet)", last)
	}
	return nil
}
