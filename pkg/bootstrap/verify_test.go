package bootstrap

import (
	"context"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// A journaled phase is skipped only while its result still holds: a
// control plane rebuilt out of band (its etcd client key gone, its kubeadm
// configuration edited) gets the phase again on the next init.
func TestJournaledPhasesRunAgainWhenTheirResultIsGone(t *testing.T) {
	ctx := context.Background()
	spec := loadExample(t, "k8s")
	f := newFakeInit(t, spec, false)
	f.ssh.Configure(freshNode(spec, nodeOptions{}))
	j, err := workflow.OpenJournal(f.stateDir, state.SpecHash(spec))
	if err != nil {
		t.Fatal(err)
	}
	run := func() string {
		f.out.Reset()
		r := InitWorkflow()
		r.Journal = j
		r.Log = func(phase, format string, args ...any) { f.Log(phase, "", format, args...) }
		only := []string{"preflight", "runtime", "runtime-workers", "etcd", "control-plane", "cni", "join", "wait-ready"}
		if err := r.RunAll(ctx, f.Init, only, nil); err != nil {
			t.Fatalf("%v\n%s", err, f.output())
		}
		return f.output()
	}
	run()
	if out := run(); strings.Count(out, "already done (journal), verified") != 5 {
		t.Fatalf("an unchanged re-run should verify and skip etcd-pki, etcd-client-certs, kubeadm-config, load-balancer and control-plane-join:\n%s", out)
	}
	master := f.conn(spec.HostsWithRole(cluster.RoleControlPlane)[0].Name)
	master.RemoveFile(host.KubeEtcdClientKey)
	master.SetFile(KubeadmConfigPath, []byte("edited by hand"))
	out := run()
	for _, want := range []string{
		"[etcd-client-certs] journaled as done, but ",
		"[kubeadm-config] journaled as done, but master-0: " + KubeadmConfigPath + " is not as kbs wrote it",
		"[etcd-pki] already done (journal), verified",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q:\n%s", want, out)
		}
	}
	if b, ok := master.File(host.KubeEtcdClientKey); !ok || len(b) == 0 {
		t.Error("the etcd client key was not put back")
	}
}
