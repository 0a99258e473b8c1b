//go:build integration

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/test/env"
)

// What kubeadm init leaves on master-0, and what kbs says when it finds it.
const (
	// apiServerManifest is written half-way through kubeadm init (its
	// control-plane phase), before the kubelet is started and waited for.
	apiServerManifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
	// kubeadmInitLog is where kbs keeps kubeadm init's output; kubeadm's
	// last phase ends it with kubeadmFinished.
	kubeadmInitLog  = "/var/log/kbs-kubeadm-init.log"
	kubeadmFinished = "Your Kubernetes control-plane has initialized successfully"
	// resumeLine is the control-plane phase's own word that it found a
	// half-done kubeadm init and runs it again with the preflight checks
	// that its leftovers trip over ignored.
	resumeLine = "[control-plane] master-0: an earlier kubeadm init stopped half-way; resuming it"
)

// kubeadmInit says how far kubeadm init got on master-0: "before" (no
// manifest yet), "half-way" (manifests written, not finished) or
// "finished".
func kubeadmInit(ctx context.Context) (string, error) {
	script := fmt.Sprintf("if grep -qs '%s' %s; then echo finished; elif test -e %s; then echo half-way; else echo before; fi", kubeadmFinished, kubeadmInitLog, apiServerManifest)
	out, err := node("master-0").Exec(ctx, "sh", "-c", script)
	if err != nil {
		return "", fmt.Errorf("master-0: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// waitKubeadmHalfWay polls master-0 until kubeadm init is half-way. It
// starts as kbs starts kubeadm init and must first see no manifest: the one
// it then sees is this kubeadm init's. The half-way stretch (kubelet start,
// the control plane coming up, kubeadm's uploads and addons) lasts seconds
// here; a poll every 100 ms cannot step over it, and if it does, that is an
// error, not a pass.
func waitKubeadmHalfWay(ctx context.Context) error {
	sawBefore := false
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		state, err := kubeadmInit(ctx)
		switch {
		case ctx.Err() != nil:
			return false, ctx.Err()
		case err != nil:
			return false, err
		case state == "before":
			sawBefore = true
		case !sawBefore:
			return false, fmt.Errorf("kubeadm init is %s as it starts: %s was there before it", state, apiServerManifest)
		case state == "finished":
			return false, errors.New("kubeadm init finished before it was seen half-way")
		}
		return state == "half-way", nil
	})
}

// initInterruptedInsideKubeadm runs init and interrupts it (SIGINT, as
// Ctrl-C would) once kubeadm init on master-0 is half-way, then checks that
// it stays half-way: kbs killed kubeadm, which did not finish, and the
// control-plane phase is not journaled. Anything else fails the test: a
// missed interrupt point must not pass as a resume.
func initInterruptedInsideKubeadm(t *testing.T, p paths) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	watching := false
	halfWay := make(chan error, 1)
	_, progress, err := kbs(ctx, func(line string) {
		// kbs is about to start the real kubeadm init: watch it from here.
		if !watching && strings.Contains(line, "running kubeadm init") {
			watching = true
			go func() {
				err := waitKubeadmHalfWay(ctx)
				cancel()
				halfWay <- err
			}()
		}
	}, p.args("init")...)
	cancel() // ends the watch when init stopped by itself
	if !watching {
		t.Fatalf("init never ran kubeadm init (%v):\n%s", err, progress)
	}
	if werr := <-halfWay; werr != nil {
		t.Fatalf("init was not interrupted inside kubeadm init: %v (init: %v)\n%s", werr, err, progress)
	}
	if err == nil {
		t.Fatalf("the interrupted init reported success:\n%s", progress)
	}
	// kbs kills what it ran on a host when interrupted; a kubeadm left
	// running could finish by itself and leave nothing half-done.
	var left string
	gone := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		left = onNode(t, "master-0", "sh", "-c", "pgrep -a -x kubeadm; echo status=$?")
		return strings.HasSuffix(left, "status=1"), nil
	})
	if gone != nil {
		t.Fatalf("kubeadm still runs on master-0 30s after init was interrupted: %s", left)
	}
	if state, err := kubeadmInit(context.Background()); err != nil || state != "half-way" {
		t.Fatalf("kubeadm init on master-0 is %q after the interrupt (%v), want half-way", state, err)
	}
	if journaled(t, p, "control-plane") {
		t.Fatal("the journal records control-plane although kubeadm init was interrupted half-way")
	}
}

// checkResumed checks a re-run's progress for the resume of kubeadm init,
// and that kubeadm then finished.
func checkResumed(t *testing.T, progress string) {
	t.Helper()
	i := strings.Index(progress, resumeLine)
	switch {
	case i < 0 && strings.Contains(progress, "[control-plane] master-0: already initialized"):
		// admin.conf is written before the manifests and the kubelet
		// brings the API server up without kubeadm: a readiness check
		// cannot tell a half-done kubeadm init from a finished one.
		t.Errorf("the re-run took the half-done kubeadm init for finished and skipped the rest of it (uploaded config, bootstrap token, addons) instead of resuming it:\n%s", progress)
	case i < 0:
		t.Errorf("the re-run lacks %q:\n%s", resumeLine, progress)
	case !strings.Contains(progress[i:], "[control-plane] master-0: kubeadm init done in"):
		t.Errorf("the resumed kubeadm init did not finish:\n%s", progress)
	}
}

// journaled says whether the state directory's journal records phase.
func journaled(t *testing.T, p paths, phase string) bool {
	t.Helper()
	ok, err := env.Journaled(p.state, phase)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
